"""A completed payment is credited once and never refused: a package deleted since the invoice is credited one coin
per Star; a second delivery of a payment credits nothing, not even a bonus activated since."""

import logging
from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from payments.invoices import invoice_for_offer
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_complete
from promocodes.models import PromokodeType
from promocodes.selectors import promo_perks_pending
from promocodes.services import promo_code_activate, promo_code_create


@pytest.mark.django_db
def test_a_payment_for_a_deleted_package_is_credited_one_coin_per_star(make_user, caplog):
    user = make_user()
    package = TopUpPackage.objects.create(title="Gone", stars=70, credits=100)
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    package.delete()
    with caplog.at_level(logging.WARNING, logger="payments.services.credit"):
        result = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=70,
                                   telegram_payment_charge_id="gone-1")
    assert result.topup.type == TransactionType.TOPUP and result.topup.amount == Decimal("70")
    assert result.topup.extra_data["package_missing"] is True and result.topup.idempotency_key == "stars:gone-1"
    assert balance_get(user=user) == Decimal("70") and Transaction.objects.count() == 1
    assert "no longer exists" in caplog.text


@pytest.mark.django_db
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
