from django.core.management.base import CommandError

from accounts.management.base import ProjectCommand
from billing.selectors import ledger_mismatches


class Command(ProjectCommand):
    help = "Verify that every user's balance equals the sum of their completed ledger entries."

    def handle(self, *args, **options):
        broken = 0
        for user in ledger_mismatches().iterator(chunk_size=1000):
            broken += 1
            self.stdout.write(
                f"MISMATCH telegram_id={user.telegram_id} balance={user.balance_coins} ledger={user.ledger_total} "
                f"difference={user.balance_coins - user.ledger_total}"
            )
        if broken:
            raise CommandError(f"{broken} user(s) whose balance does not match the ledger.")
        self.stdout.write(self.style.SUCCESS("OK: every balance matches its ledger."))
