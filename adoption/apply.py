"""Running an adoption's plan: every step, Django's migrations and the opening balances in ONE transaction.
PostgreSQL's DDL is transactional, so any failure leaves the database exactly as it was."""

from collections.abc import Callable

from django.db import connection, transaction

from adoption.exceptions import InjectedFailure, LedgerMismatch
from adoption.plan import Plan
from billing.selectors import ledger_mismatches


def plan_apply(*, plan: Plan, report: Callable[[str], None], fail_after_step: int | None = None) -> None:
    """Run every step in one transaction; an exception anywhere rolls all of it back."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred foreign-key checks would leave "pending trigger events" that forbid a later ALTER TABLE
            # in the same transaction (data migrations followed by schema changes).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for number, step in enumerate(plan.steps, 1):
            step.run()
            report(f"  [{number}/{len(plan.steps)}] {step.title}: done")
            if fail_after_step == number:
                raise InjectedFailure(f"Injected failure after step {number}.")
        _ledger_check()
        report("  Ledger: every balance matches the sum of its ledger entries")


def _ledger_check() -> None:
    """balance = sum of the ledger, checked before the commit: a mismatch raises, so nothing is adopted."""
    broken = list(ledger_mismatches().values_list("telegram_id", flat=True)[:21])
    if broken:
        n = ledger_mismatches().count()
        shown = ", ".join(str(telegram_id) for telegram_id in broken[:20]) + (", ..." if n > 20 else "")
        raise LedgerMismatch(f"{n} balance(s) do not match the ledger (telegram ids: {shown}).")
