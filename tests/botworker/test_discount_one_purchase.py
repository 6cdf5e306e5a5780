"""In the bot: two invoices opened with one discount code, the second one's pre-checkout is refused while the first
is being paid, so the discount pays for one purchase only."""

from decimal import Decimal

import pytest

from billing.models import TopUpPackage, Transaction
from botworker.callbacks import TopUpPackageChoice
from promocodes.models import PromokodeType
from promocodes.services import promo_code_create
from tests.support import updates

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("topup_packages")]


def _ok(answer) -> bool:
    return answer.data["ok"] in (True, "true")


async def test_two_invoices_with_one_discount_only_the_first_passes_pre_checkout(bot_env):
    await bot_env.orm(promo_code_create, code="HALF", type=PromokodeType.DISCOUNT, discount_percent=Decimal("50"))
    bot_env.feed(updates.message(7401, "/promo HALF"))
    await bot_env.wait_for("sendMessage", lambda c: "Скидка 50%" in c.text)
    package = await bot_env.orm(lambda: TopUpPackage.objects.filter(is_active=True).order_by("stars").first())
    price = (package.stars + 1) // 2
    for _ in range(2):
        bot_env.feed(updates.callback(7401, TopUpPackageChoice(package_id=package.pk).pack()))
    invoices = await bot_env.wait_for("sendInvoice", count=2)
    first, second = (call.data["payload"] for call in invoices)
    assert first != second and all(call.json("prices")[0]["amount"] == price for call in invoices)

    bot_env.feed(updates.pre_checkout(7401, payload=first, total_amount=price))
    assert _ok(await bot_env.wait_for("answerPreCheckoutQuery"))
    bot_env.feed(updates.pre_checkout(7401, payload=second, total_amount=price))
    refused = (await bot_env.wait_for("answerPreCheckoutQuery", count=2))[1]
    assert not _ok(refused) and "Цена или пакет изменились" in refused.data["error_message"]

    bot_env.feed(updates.successful_payment(7401, payload=first, total_amount=price, charge_id="half-bot"))
    await bot_env.wait_for("sendMessage", lambda c: "Оплата получена" in c.text)
    bot_env.feed(updates.pre_checkout(7401, payload=second, total_amount=price))
    assert not _ok((await bot_env.wait_for("answerPreCheckoutQuery", count=3))[2])
    assert await bot_env.orm(lambda: Transaction.objects.filter(user__telegram_id=7401).count()) == 1
