"""Fixtures of the payments tests: a real purchase with a promo code bonus, and fixtures shared with the suites
that own them (the end-to-end bot and its packages, the fake Bot API with the settings pointing at it, an operator
client with chosen permissions)."""

from decimal import Decimal

import pytest

from billing.selectors import balance_get
from payments.invoices import invoice_for_offer
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_complete
from promocodes.models import PromokodeType
from promocodes.services import promo_code_activate, promo_code_create
from tests.admin.conftest import staff_client  # noqa: F401
from tests.botworker.conftest import bot_env, topup_packages  # noqa: F401


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
