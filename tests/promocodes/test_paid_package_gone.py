"""A completed payment is never refused: a package deleted since the invoice is credited one coin per Star."""

import logging
from decimal import Decimal

import pytest

from billing.models import TopUpPackage, Transaction, TransactionType
from billing.selectors import balance_get
from promocodes.selectors import topup_offer_get
from promocodes.services import invoice_for_offer, purchase_complete


@pytest.mark.django_db
def test_a_payment_for_a_deleted_package_is_credited_one_coin_per_star(make_user, caplog):
    user = make_user()
    package = TopUpPackage.objects.create(title="Gone", stars=70, credits=100)
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    package.delete()
    with caplog.at_level(logging.WARNING, logger="promocodes.services"):
        result = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=70,
                                   telegram_payment_charge_id="gone-1")
    assert result.topup.type == TransactionType.TOPUP and result.topup.amount == Decimal("70")
    assert result.topup.extra_data["package_missing"] is True and result.topup.idempotency_key == "stars:gone-1"
    assert balance_get(user=user) == Decimal("70") and Transaction.objects.count() == 1
    assert "no longer exists" in caplog.text
