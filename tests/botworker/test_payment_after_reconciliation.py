"""The bot confirms a payment the periodic reconciliation credited before its successful_payment arrived, once."""

from decimal import Decimal

import pytest

from billing import stars
from billing.models import TopUpPackage, Transaction
from billing.selectors import balance_get
from promocodes.models import PromokodeType
from promocodes.selectors import topup_offer_get
from promocodes.services import invoice_for_offer, promo_code_activate, promo_code_create
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


def _reconciled_payment(make_user) -> tuple[str, int]:
    """A user with a pending bonus code whose payment the reconciliation credited first; returns its payload."""
    user = make_user(telegram_id=7301)
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="PLUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="PLUS30")
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    stars._credit_missing(stars.TelegramPayment(
        charge_id="rc-bot", stars=100, user={"id": 7301, "first_name": "P"}, payload=payload, date=1),
        created_by="periodic")
    return payload, user.pk


async def test_a_payment_the_reconciliation_credited_first_is_confirmed_with_its_bonus_once(bot_env, make_user):
    payload, user_id = await bot_env.orm(_reconciled_payment, make_user)
    bot_env.feed(updates.successful_payment(7301, payload=payload, total_amount=100, charge_id="rc-bot"))
    done = await bot_env.wait_for("sendMessage", lambda c: "Оплата получена" in c.text)
    assert "Бонус по промокоду: +30" in done.text and "Ваш баланс: <b>130 монет" in done.text
    bot_env.feed(updates.successful_payment(7301, payload=payload, total_amount=100, charge_id="rc-bot"))
    await bot_env.idle()
    assert len(bot_env.api.calls_of("sendMessage")) == 1
    assert await bot_env.orm(balance_get, user=user_id) == Decimal("130")
    assert await bot_env.orm(lambda: Transaction.objects.filter(user_id=user_id).count()) == 2
