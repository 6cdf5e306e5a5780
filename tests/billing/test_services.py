import random
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections

from billing import services
from billing.exceptions import IdempotencyConflict, InsufficientFunds, InvalidAmount, NotRefundable
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get, ledger_mismatches


@pytest.mark.django_db
def test_credit_then_debit_writes_entries_with_the_balance_after(make_user):
    user = make_user()
    services.balance_credit(user=user, amount="10.50", description="top-up")
    entry = services.balance_debit(user=user, amount=Decimal("3.25"), description="image")
    assert entry.amount == Decimal("-3.25")
    assert entry.balance_after == Decimal("7.25")
    assert balance_get(user=user) == Decimal("7.25")
    assert list(ledger_mismatches()) == []


@pytest.mark.django_db
def test_debit_beyond_the_balance_is_refused_and_changes_nothing(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=5)
    with pytest.raises(InsufficientFunds) as info:
        services.balance_debit(user=user, amount=6)
    assert info.value.balance == Decimal("5") and info.value.required == Decimal("6")
    assert balance_get(user=user) == Decimal("5")
    assert Transaction.objects.filter(user=user).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["0", "-1", "NaN", "inf", "1.001", "abc", "", 1.5, "1e12", True])
def test_invalid_amounts_are_refused_with_a_clear_error(make_user, bad):
    user = make_user()
    with pytest.raises(InvalidAmount):
        services.balance_credit(user=user, amount=bad)
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_the_same_idempotency_key_applies_once(make_user):
    user = make_user()
    first = services.balance_credit(user=user, amount=100, idempotency_key="stars:charge-1", type=TransactionType.TOPUP)
    second = services.balance_credit(user=user, amount=100, idempotency_key="stars:charge-1", type=TransactionType.TOPUP)
    assert first.pk == second.pk
    assert balance_get(user=user) == Decimal("100")


@pytest.mark.django_db
def test_an_idempotency_key_of_another_user_is_a_conflict(make_user):
    a, b = make_user(), make_user()
    services.balance_credit(user=a, amount=1, idempotency_key="k")
    with pytest.raises(IdempotencyConflict):
        services.balance_credit(user=b, amount=1, idempotency_key="k")
    assert balance_get(user=b) == 0


@pytest.mark.django_db
def test_a_charge_is_refunded_at_most_once(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    charge = services.balance_debit(user=user, amount=4)
    refund = services.balance_refund(entry=charge)
    again = services.balance_refund(entry=charge.pk)
    assert refund.pk == again.pk
    assert refund.amount == Decimal("4") and refund.refund_of_id == charge.pk
    assert balance_get(user=user) == Decimal("10")
    with pytest.raises(NotRefundable):
        services.balance_refund(entry=refund)


@pytest.mark.django_db
def test_adjustment_needs_a_reason_and_may_be_negative(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    with pytest.raises(InvalidAmount):
        services.balance_adjust(user=user, amount=-1, reason=" ", created_by="admin")
    entry = services.balance_adjust(user=user, amount="-2.5", reason="typo", created_by="admin:root")
    assert entry.type == TransactionType.ADJUSTMENT and entry.created_by == "admin:root"
    with pytest.raises(InsufficientFunds):
        services.balance_adjust(user=user, amount=-100, reason="too much", created_by="admin")
    assert balance_get(user=user) == Decimal("7.5")


@pytest.mark.django_db
def test_check_ledger_reports_a_broken_invariant(make_user):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from billing.models import UserBalance

    good, bad = make_user(), make_user()
    services.balance_credit(user=good, amount=5)
    services.balance_credit(user=bad, amount=5)
    out = StringIO()
    call_command("check_ledger", stdout=out)
    assert "OK" in out.getvalue()
    UserBalance.objects.filter(user=bad).update(coins=Decimal("6"))
    with pytest.raises(CommandError) as info:
        call_command("check_ledger", stdout=out)
    assert str(bad.telegram_id) in out.getvalue() + str(info.value)
    assert str(good.telegram_id) not in out.getvalue().split("OK")[-1]


def _run_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_debits_of_a_user_who_can_afford_ten(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=10)
    results, errors = _run_threads(20, lambda i: services.balance_debit(user=user, amount=1))
    assert len(results) == 10
    assert len(errors) == 10 and all(isinstance(e, InsufficientFunds) for e in errors)
    assert all(e.balance < e.required for e in errors)  # each refusal tells the balance it was refused on
    assert balance_get(user=user) == 0
    assert Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count() == 10
    assert list(ledger_mismatches()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_key_from_ten_threads_makes_one_entry(make_user):
    user = make_user()
    results, errors = _run_threads(
        10, lambda i: services.balance_credit(user=user, amount=7, idempotency_key="payment-xyz", type="topup")
    )
    assert errors == []
    assert len({r.pk for r in results}) == 1
    assert Transaction.objects.filter(idempotency_key="payment-xyz").count() == 1
    assert balance_get(user=user) == Decimal("7")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_invariant_holds_after_a_random_concurrent_mix(make_user):
    users = [make_user() for _ in range(3)]
    rng = random.Random(1234)
    plan = [(rng.choice(users), rng.choice(["credit", "debit", "refund", "adjust"]), rng.randint(1, 500) / 100)
            for _ in range(160)]

    def op(i):
        user, kind, amount = plan[i]
        amount = Decimal(str(amount))
        if kind == "credit":
            return services.balance_credit(user=user, amount=amount, idempotency_key=f"mix-{i % 40}")
        if kind == "debit":
            return services.balance_debit(user=user, amount=amount)
        if kind == "adjust":
            return services.balance_adjust(user=user, amount=-amount, reason="mix", created_by="test")
        charge = Transaction.objects.filter(user=user, type=TransactionType.CHARGE).order_by("?").first()
        return services.balance_refund(entry=charge) if charge else None

    for start in range(0, len(plan), 16):
        _run_threads(16, lambda i, s=start: op(s + i))
    assert list(ledger_mismatches()) == []
    for user in users:
        assert balance_get(user=user) >= 0
