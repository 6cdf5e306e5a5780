"""Refunding a Stars payment also takes back the promo code bonus credited with it, at most once; the code's usage
stays consumed."""

from decimal import Decimal

import pytest

from billing import stars
from billing.exceptions import InsufficientFunds
from billing.models import TopUpPackage, Transaction, TransactionType
from billing.selectors import balance_get, ledger_mismatches
from billing.services import balance_debit, balance_reverse_payment
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.selectors import promo_perks_pending, topup_offer_get
from promocodes.services import invoice_for_offer, promo_code_activate, promo_code_create, purchase_complete


@pytest.fixture
def paid_with_bonus(db, make_user):
    """A real purchase of 100 coins with a 30-coin promo bonus: returns (user, TOPUP entry, BONUS entry)."""
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="PLUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="PLUS30")
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    result = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                               telegram_payment_charge_id="b-1")
    assert result.bonus.amount == Decimal("30") and balance_get(user=user) == Decimal("130")
    return user, result.topup, result.bonus


def _reversals(entry) -> list[Transaction]:
    return list(Transaction.objects.filter(refund_of=entry))


def _assert_bonus_usage_stays_consumed(user):
    assert PromokodeUsage.objects.get(user=user).consumed_at is not None
    assert promo_perks_pending(user=user).bonus == 0


def test_an_operator_refund_takes_back_the_payment_and_its_promo_bonus_once(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    reversal = stars.stars_payment_refund(entry=topup, created_by="op")
    assert reversal.refund_of == topup and reversal.amount == Decimal("-100")
    [bonus_reversal] = _reversals(bonus)
    assert bonus_reversal.type == TransactionType.PAYMENT_REFUND and bonus_reversal.amount == Decimal("-30")
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    assert stars.stars_payment_refund(entry=topup, created_by="op") == reversal
    assert len(_reversals(bonus)) == 1 and len(api.calls_of("refundStarPayment")) == 1
    _assert_bonus_usage_stays_consumed(user)


def test_an_operator_refund_is_refused_before_telegram_when_the_bonus_coins_were_spent(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_debit(user=user, amount="10")  # 120 left: enough for the payment's 100, not for 100 + 30
    with pytest.raises(InsufficientFunds):
        stars.stars_payment_refund(entry=topup, created_by="op")
    assert api.calls_of("refundStarPayment") == []
    assert not _reversals(topup) and not _reversals(bonus) and balance_get(user=user) == Decimal("120")


def test_a_refund_made_outside_the_bot_reverses_the_bonus_too_once(paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    for _ in range(2):  # refunded_payment delivered twice
        stars.stars_refund_record(telegram_payment_charge_id="b-1")
    assert len(_reversals(topup)) == 1 and len(_reversals(bonus)) == 1
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    _assert_bonus_usage_stays_consumed(user)


def test_a_refund_whose_bonus_coins_were_spent_reverses_nothing_and_flags_the_payment(paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_debit(user=user, amount="10")
    with pytest.raises(stars.RefundNotReversed):
        stars.stars_refund_record(telegram_payment_charge_id="b-1")
    topup.refresh_from_db()
    assert topup.extra_data[stars.UNREVERSED_FLAG] is True
    assert not _reversals(topup) and not _reversals(bonus) and balance_get(user=user) == Decimal("120")


def test_reconciliation_takes_back_a_bonus_an_earlier_refund_left_standing(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_reverse_payment(entry=topup)  # refunded before bonuses were reversed: 30 coins left standing
    api.results["getStarTransactions"] = lambda data: {"transactions": [
        {"id": "b-1", "amount": 100, "date": 1, "source": {"type": "user", "transaction_type": "invoice_payment",
                                                            "user": {"id": user.telegram_id}, "invoice_payload": ""}},
        {"id": "b-1", "amount": 100, "date": 2, "receiver": {"type": "user", "user": {"id": user.telegram_id}}},
    ][int(data.get("offset") or 0):]}
    report = stars.stars_reconcile()
    assert report.refunds_not_reversed == [topup] and not _reversals(bonus)
    stars.stars_reconcile(fix=True)
    assert len(_reversals(bonus)) == 1 and len(_reversals(topup)) == 1 and balance_get(user=user) == 0
    assert stars.stars_reconcile().clean


def test_a_refund_telegram_refuses_gives_back_the_payment_and_its_bonus(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    with pytest.raises(stars.StarsAPIError):
        stars.stars_payment_refund(entry=topup, created_by="op")
    assert [e.amount for e in _reversals(topup) + _reversals(bonus)] == [Decimal("-100"), Decimal("-30")]
    assert [len(_reversals(e)) for e in _reversals(topup) + _reversals(bonus)] == [1, 1]  # each given back once
    assert balance_get(user=user) == Decimal("130") and not ledger_mismatches().exists()
    stars.stars_payment_refund(entry=topup, created_by="op")  # Telegram takes it now
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
