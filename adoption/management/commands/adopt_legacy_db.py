import argparse

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from adoption.apply import plan_apply
from adoption.catalogue import adoption_state, pending_migrations
from adoption.exceptions import AdoptionRefused
from adoption.plan import Plan, build_plan


class Command(BaseCommand):
    help = (
        "Adopt a PostgreSQL database of the earlier service (Alembic-era, or made by its models' create_all): "
        "convert its tables in one transaction, "
        "apply this project's migrations (--fake-initial) and record opening balances in the ledger. "
        "Use --dry-run first to see the plan."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the plan and change nothing.")
        # Tests only: raise after step N to prove that a failure half way changes nothing.
        parser.add_argument("--fail-after-step", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args, dry_run, fail_after_step, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Adoption works on PostgreSQL only: point DATABASE_URL at the legacy database.")
        state = adoption_state()
        if state == "adopted":
            return self.report_adopted()
        if state == "empty":
            raise CommandError(
                "No tables of the earlier service here: nothing to adopt. A new database needs only `migrate`.")
        try:
            plan = build_plan()
        except AdoptionRefused as refused:
            raise CommandError(str(refused)) from None
        self.print_plan(plan, dry_run=dry_run)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
            return
        self.stdout.write("Adopting in one transaction...")
        try:
            plan_apply(plan=plan, report=self.stdout.write, fail_after_step=fail_after_step)
        except Exception as error:
            raise CommandError(f"Adoption failed and was rolled back; the database is as it was. {error}") from error
        # plan_apply checked the ledger inside the transaction: here it is committed.
        self.stdout.write(self.style.SUCCESS("Adopted: every balance matches the ledger (check_ledger passes)."))

    def report_adopted(self):
        pending = pending_migrations()
        self.stdout.write("Nothing to do: this database is already adopted.")
        if pending:
            self.stdout.write(f"{len(pending)} newer migration(s) are not applied yet: run `manage.py migrate`.")

    def print_plan(self, plan: Plan, *, dry_run: bool):
        if plan.alembic_version is None:
            self.stdout.write("Database of the earlier service's newest models recognised (create_all, never "
                              "migrated: no alembic_version table).")
        else:
            self.stdout.write(
                f"Alembic-era database recognised (alembic_version {plan.alembic_version}: stale, not used).")
        self.stdout.write("Plan" + (" (dry run)" if dry_run else "") + ":")
        for number, step in enumerate(plan.steps, 1):
            self.stdout.write(f"{number:>3}. {step.title}")
            for line in step.details:
                self.stdout.write(f"       - {line}")
        self.stdout.write(f"Rows whose values change ({len(plan.changed_rows)}):")
        for line in plan.changed_rows or ["(none)"]:
            self.stdout.write(f"  {line}")
        self.stdout.write("Left untouched: " + (", ".join(plan.untouched) or "(nothing)"))
        for note in plan.notes:
            self.stdout.write(f"Note: {note}")
