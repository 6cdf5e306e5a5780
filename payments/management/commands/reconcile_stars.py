from django.core.management.base import CommandError

from accounts.management.base import ProjectCommand
from billing.selectors import reversal_live
from payments.exceptions import StarsAPIError
from payments.keys import UNKNOWN_FLAG, charge_id_of, stars_key
from payments.services.reconcile import stars_reconcile


class Command(ProjectCommand):
    help = (
        "Compare the bot's Telegram Stars transactions (getStarTransactions) with the ledger and report the "
        "differences. With --fix: credit payments the ledger lacks (once, marked reconciled) unless they do not match "
        "their invoice (flagged for an operator instead), reverse credits of refunded payments, and flag ledger "
        "credits Telegram does not know for an operator (never deleted)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Repair what is safe to repair (see above).")

    def handle(self, *args, fix: bool, **options):
        try:
            report = stars_reconcile(fix=fix)
        except StarsAPIError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Telegram: {report.telegram_payments} payment(s); ledger: {report.ledger_payments} "
                          "Stars credit(s).")
        credited = {e.idempotency_key for e in report.credited}
        for p in report.missing:
            state = "CREDITED" if stars_key(p.charge_id) in credited else "MISSING"
            self.stdout.write(f"{state} charge={p.charge_id} telegram_user={p.user.get('id')} stars={p.stars} "
                              f"payload={p.payload!r}")
        for e in report.refunds_not_reversed:
            state = "REVERSED" if fix and reversal_live(entry=e) is not None else "REFUNDED-NOT-REVERSED"
            self.stdout.write(f"{state} charge={charge_id_of(e)} entry=#{e.pk} telegram_user={e.user.telegram_id}")
        for p in report.flagged:
            self.stdout.write(f"FLAGGED charge={p.charge_id} telegram_user={p.user.get('id')} stars={p.stars} "
                              f"payload={p.payload!r} (does not match its invoice: not credited, see Flagged payments)")
        for p in report.refunded_never_credited:
            self.stdout.write(f"REFUNDED-NEVER-CREDITED charge={p.charge_id} telegram_user={p.user.get('id')}")
        for e in report.unknown:
            self.stdout.write(f"UNKNOWN-TO-TELEGRAM charge={charge_id_of(e)} entry=#{e.pk} "
                              f"telegram_user={e.user.telegram_id} amount={e.amount}"
                              f"{' (flagged)' if (e.extra_data or {}).get(UNKNOWN_FLAG) else ''}")
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"PROBLEM {problem}"))
        if report.clean:
            self.stdout.write(self.style.SUCCESS("OK: the ledger matches Telegram."))
        elif not fix:
            self.stdout.write("Run with --fix to repair (credits missing payments, reverses refunds, flags unknown).")
