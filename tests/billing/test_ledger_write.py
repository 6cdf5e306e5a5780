"""The ledger write at its edges: a user with no balance row yet, a key of another user, a caller's transaction
around it, and races that meet the row lock or the unique keys (on PostgreSQL the write is one statement)."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction

from billing import services
from billing.exceptions import IdempotencyConflict, InsufficientFunds
from billing.models import Transaction, TransactionType, UserBalance
from billing.selectors import balance_get, ledger_mismatches
from tests.billing.test_services import _run_threads


@pytest.mark.django_db
def test_the_first_credit_of_a_user_opens_the_balance_row(make_user):
    user = make_user()
    assert not UserBalance.objects.filter(user=user).exists()
    entry = services.balance_credit(user=user, amount="5.50")
    assert entry.balance_after == Decimal("5.50")
    assert UserBalance.objects.get(user=user).coins == Decimal("5.50")
    assert list(ledger_mismatches()) == []


@pytest.mark.django_db
def test_a_debit_of_a_user_with_no_balance_row_is_refused_and_leaves_nothing(make_user):
    user = make_user()
    with pytest.raises(InsufficientFunds) as info:
        services.balance_debit(user=user, amount=1)
    assert info.value.balance == 0 and info.value.required == Decimal("1")
    assert not UserBalance.objects.filter(user=user).exists()
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_entry_returned_is_the_row_written(make_user):
    user = make_user()
    entry = services.balance_credit(
        user=user, amount=3, type=TransactionType.BONUS, description="d" * 600, created_by="c" * 200,
        idempotency_key="bonus-1", extra_data={"items": [1, "two", None], "nested": {"ok": True}},
    )
    assert not entry._state.adding and entry._state.db == "default"
    assert len(entry.description) == 500 and len(entry.created_by) == 150
    stored = Transaction.objects.get(pk=entry.pk)
    for field in Transaction._meta.concrete_fields:
        assert getattr(entry, field.attname) == getattr(stored, field.attname), field.name
    services.ledger_entry_annotate(entry=entry, notes={"seen": 1})  # a saved row, usable like any other
    assert Transaction.objects.get(pk=entry.pk).extra_data["seen"] == 1


@pytest.mark.django_db
def test_a_repeated_key_returns_the_first_entry_even_after_the_coins_are_spent(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    first = services.balance_debit(user=user, amount=10, idempotency_key="job-1")
    again = services.balance_debit(user=user, amount=10, idempotency_key="job-1")
    assert again.pk == first.pk
    assert balance_get(user=user) == 0


@pytest.mark.django_db
def test_a_key_of_another_user_moves_none_of_the_callers_money(make_user):
    owner, other = make_user(), make_user()
    services.balance_credit(user=owner, amount=3, idempotency_key="pay-1")
    services.balance_credit(user=other, amount=10)
    with pytest.raises(IdempotencyConflict):
        services.balance_credit(user=other, amount=4, idempotency_key="pay-1")
    with pytest.raises(IdempotencyConflict):
        services.balance_debit(user=other, amount=4, idempotency_key="pay-1")
    assert balance_get(user=other) == Decimal("10") and balance_get(user=owner) == Decimal("3")
    assert Transaction.objects.filter(user=other).count() == 1


@pytest.mark.django_db
def test_a_repeated_key_is_the_same_users_whichever_way_the_user_is_given(make_user):
    user = make_user()
    first = services.balance_credit(user=user, amount=5, idempotency_key="pay-1")
    again = services.balance_credit(user=str(user.pk).upper(), amount=5, idempotency_key="pay-1")
    assert again.pk == first.pk
    assert balance_get(user=user) == Decimal("5")


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_that_rolls_back_nothing_of_the_ledger_stays(make_user):
    user, newcomer = make_user(), make_user()
    services.balance_credit(user=user, amount=10)
    charge = services.balance_debit(user=user, amount=2)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.balance_debit(user=user, amount=4, idempotency_key="job-1")
        services.balance_refund(entry=charge)
        services.balance_credit(user=newcomer, amount=5)  # opens the newcomer's balance row
        raise RuntimeError("the caller fails after the money moved")
    assert balance_get(user=user) == Decimal("8")
    assert Transaction.objects.filter(user=user).count() == 2
    assert not UserBalance.objects.filter(user=newcomer).exists()
    assert not Transaction.objects.filter(user=newcomer).exists()
    # The key and the reversal were never used: they work now.
    assert services.balance_debit(user=user, amount=4, idempotency_key="job-1").balance_after == Decimal("4")
    assert services.balance_refund(entry=charge).balance_after == Decimal("6")
    assert list(ledger_mismatches()) == []


@pytest.mark.django_db(transaction=True)
def test_a_refusal_inside_a_transaction_leaves_it_usable(make_user):
    owner, user = make_user(), make_user()
    services.balance_credit(user=owner, amount=1, idempotency_key="pay-1")
    services.balance_credit(user=user, amount=1)
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            services.balance_debit(user=user, amount=5)
        with pytest.raises(IdempotencyConflict):
            services.balance_credit(user=user, amount=5, idempotency_key="pay-1")
        services.balance_debit(user=user, amount=1)
    assert balance_get(user=user) == 0
    assert list(ledger_mismatches()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_threads_refunding_one_charge_refund_it_once(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    charge = services.balance_debit(user=user, amount=4)
    results, errors = _run_threads(10, lambda i: services.balance_refund(entry=charge.pk))
    assert errors == []
    assert len({r.pk for r in results}) == 1
    assert Transaction.objects.filter(refund_of=charge).count() == 1
    assert balance_get(user=user) == Decimal("10")
    assert list(ledger_mismatches()) == []


def _while_another_transaction_holds_the_balance(change, then):
    """Run ``change`` in a transaction on another connection and keep it open until ``then`` (on a third
    connection) waits for the balance row, or is done without waiting; then commit it. Returns what ``change``
    (``held``) and ``then`` (``result`` or ``error``) gave."""
    locked, release, outcome = threading.Event(), threading.Event(), {}

    def holder():
        try:
            with transaction.atomic():
                outcome["held"] = change()
                locked.set()
                release.wait(30)
        finally:
            locked.set()
            close_old_connections()

    def waiter():
        try:
            outcome["result"] = then()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc
        finally:
            close_old_connections()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    locked.wait(30)
    threads.append(threading.Thread(target=waiter))
    threads[1].start()
    _wait_for_a_lock_wait_or(threads[1])
    release.set()
    for thread in threads:
        thread.join(30)
    return outcome


def _wait_for_a_lock_wait_or(waiter: threading.Thread):
    for _ in range(3000):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0] or not waiter.is_alive():
                return
        time.sleep(0.01)
    raise AssertionError("the second write neither waited for the balance row nor finished")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_debit_refused_after_waiting_for_another_debit_reports_the_balance_that_refused_it(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    outcome = _while_another_transaction_holds_the_balance(
        lambda: services.balance_debit(user=user, amount=8), lambda: services.balance_debit(user=user, amount=5),
    )
    assert isinstance(outcome.get("error"), InsufficientFunds)
    assert outcome["error"].balance == Decimal("2") and outcome["error"].required == Decimal("5")
    assert balance_get(user=user) == Decimal("2")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_committed_by_a_concurrent_write_returns_its_entry_and_the_callers_transaction_goes_on(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=1)

    def pay_then_spend():
        with transaction.atomic():
            entry = services.balance_credit(user=user, amount=7, idempotency_key="pay-1", type=TransactionType.TOPUP)
            services.balance_debit(user=user, amount=2)
        return entry

    outcome = _while_another_transaction_holds_the_balance(
        lambda: services.balance_credit(user=user, amount=7, idempotency_key="pay-1", type=TransactionType.TOPUP),
        pay_then_spend,
    )
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].pk == outcome["held"].pk
    assert Transaction.objects.filter(idempotency_key="pay-1").count() == 1
    assert balance_get(user=user) == Decimal("6")
    assert list(ledger_mismatches()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_debit_that_meets_a_concurrent_credit_never_overdraws_nor_fails(make_user):
    # Either the debit comes after the credit (and sees its coins) or before it (and is refused on the balance
    # it saw): both are orders the ledger can tell; an error or a negative balance is not.
    user = make_user()
    services.balance_credit(user=user, amount=5)
    outcome = _while_another_transaction_holds_the_balance(
        lambda: services.balance_credit(user=user, amount=30), lambda: services.balance_debit(user=user, amount=26),
    )
    if "error" in outcome:
        assert isinstance(outcome["error"], InsufficientFunds), outcome["error"]
        assert outcome["error"].balance == Decimal("5")
        assert balance_get(user=user) == Decimal("35")
    else:
        assert outcome["result"].balance_after == Decimal("9")
        assert balance_get(user=user) == Decimal("9")
    assert list(ledger_mismatches()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_not_kept_alive_by_the_ledger(make_user):
    # The bot opens a connection per update: whatever the ledger keeps per connection must go with it.
    import gc
    import weakref

    user = make_user()
    services.balance_credit(user=user, amount=1)
    closed = weakref.ref(connection.connection)
    connection.close()
    services.balance_credit(user=user, amount=1)
    gc.collect()
    assert closed() is None
    assert balance_get(user=user) == Decimal("2")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_balance_change_is_one_query_and_a_repeated_key_one_more(make_user):
    from django.test.utils import CaptureQueriesContext

    user = make_user()
    services.balance_credit(user=user, amount=10)
    with CaptureQueriesContext(connection) as queries:
        services.balance_debit(user=user, amount=3, idempotency_key="job-1")
    assert len(queries) == 1, [q["sql"] for q in queries]
    with CaptureQueriesContext(connection) as queries:
        services.balance_debit(user=user, amount=3, idempotency_key="job-1")
    assert len(queries) == 2, [q["sql"] for q in queries]
    assert balance_get(user=user) == Decimal("7")
