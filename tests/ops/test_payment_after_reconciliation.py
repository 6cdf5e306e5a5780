"""A payment the reconciliation credited before its successful_payment arrived still gets its promo codes applied
(discount consumed, pending bonus credited) once, when the payment itself is delivered."""

from decimal import Decimal

import pytest

from billing import stars
from billing.models import TopUpPackage, Transaction, TransactionType
from billing.selectors import balance_get
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.selectors import promo_perks_pending, topup_offer_get
from promocodes.services import invoice_for_offer, promo_code_activate, promo_code_create, purchase_complete


def _history(api, *items):
    api.results["getStarTransactions"] = lambda data: {"transactions": list(items)[int(data.get("offset") or 0):]}


def _payment(charge_id, user_id, stars_paid, payload) -> dict:
    return {"id": charge_id, "amount": stars_paid, "date": 1_700_000_000,
            "source": {"type": "user", "transaction_type": "invoice_payment",
                       "user": {"id": user_id, "is_bot": False, "first_name": "P"}, "invoice_payload": payload}}


def test_a_payment_credited_by_reconciliation_first_still_consumes_its_discount_and_gets_its_bonus(api, make_user):
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="SALE20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    promo_code_create(code="PLUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="SALE20")
    promo_code_activate(user=user, code="PLUS30")
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    _history(api, _payment("rc-1", user.telegram_id, 80, payload))

    report = stars.stars_reconcile(fix=True, created_by="periodic")
    assert [e.amount for e in report.credited] == [Decimal("100")]  # the package, from the discounted payload
    assert promo_perks_pending(user=user).discount_percent == Decimal("20")  # not replayed by the reconciliation

    late = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=80,
                             telegram_payment_charge_id="rc-1")
    assert not late.duplicate and late.settled_late  # the bot confirms this one
    assert late.topup == report.credited[0]
    assert late.bonus.type == TransactionType.BONUS and late.bonus.idempotency_key == "promo-bonus:rc-1"
    assert late.balance == balance_get(user=user) == Decimal("130")
    assert PromokodeUsage.objects.filter(consumed_at__isnull=True).count() == 0

    again = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=80,
                              telegram_payment_charge_id="rc-1")
    assert again.duplicate and not again.settled_late and again.bonus == late.bonus
    assert balance_get(user=user) == Decimal("130") and Transaction.objects.filter(user=user).count() == 2
    assert stars.stars_reconcile(fix=True).clean


def test_a_second_delivery_after_a_normal_payment_does_not_pick_up_a_bonus_activated_since(make_user):
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    first = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                              telegram_payment_charge_id="n-1")
    assert first.bonus is None
    promo_code_create(code="LATER", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="LATER")
    again = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                              telegram_payment_charge_id="n-1")
    assert again.duplicate and again.bonus is None
    assert balance_get(user=user) == Decimal("100") and promo_perks_pending(user=user).bonus == Decimal("30")


@pytest.fixture(autouse=True)
def _db(db):
    """Every test here uses the database (the api fixture does not ask for it)."""
