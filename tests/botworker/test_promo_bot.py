"""Promo codes in the bot: the button, ``/promo CODE``, and the message for each refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.selectors import balance_get
from botworker.callbacks import Menu, MenuSection
from promocodes.models import PromokodeType
from promocodes.services import promo_code_activate, promo_code_create
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


async def test_the_promo_button_then_a_text_message_activates_a_balance_code(bot_env, make_user):
    await bot_env.orm(promo_code_create, code="WELCOME", type=PromokodeType.BALANCE, balance_amount=Decimal("25"))
    bot_env.feed(updates.callback(7001, Menu(section=MenuSection.PROMO).pack()))
    await bot_env.wait_for("sendMessage", to(7001, "Введите промокод"))
    bot_env.feed(updates.message(7001, " welcome "))
    call = await bot_env.wait_for("sendMessage", to(7001, "Промокод применен"))
    assert "Получено: 25 монет" in call.text
    user = await bot_env.orm(make_user, telegram_id=7001)
    assert await bot_env.orm(balance_get, user=user) == Decimal("25")
    # The state ended: more text is no longer taken as a code.
    bot_env.feed(updates.message(7001, "WELCOME"))
    await bot_env.wait_for("sendMessage", to(7001, "не понимаю"))


async def test_promo_command_with_a_bonus_and_a_discount_code(bot_env):
    await bot_env.orm(promo_code_create, code="PLUS10", type=PromokodeType.BONUS, bonus_amount=Decimal("10"))
    await bot_env.orm(promo_code_create, code="SALE20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    bot_env.feed(updates.message(7002, "/promo plus10"))
    bonus = await bot_env.wait_for("sendMessage", to(7002, "Промокод применен"))
    assert "+10 монет добавится к вашему следующему пополнению" in bonus.text
    assert "balance_top_up" in bonus.callback_datas()
    bot_env.feed(updates.message(7002, "/promo SALE20"))
    discount = await bot_env.wait_for("sendMessage", to(7002, "Скидка 20%"))
    assert "balance_top_up" in discount.callback_datas()


@pytest.mark.parametrize("code, terms, message", [
    ("MISSING", None, "❌ Промокод не найден."),
    ("SWITCHEDOFF", {"is_active": False}, "❌ Промокод не найден."),
    ("TOMORROW", {"valid_from": timezone.now() + timedelta(days=1)}, "⏳ Промокод ещё не действует."),
    ("YESTERDAY", {"valid_until": timezone.now() - timedelta(days=1)}, "❌ Промокод недействителен или истек."),
    ("USEDUP", {"max_uses": 1, "_used_by_someone": True}, "все активации уже использованы"),
    ("MINE", {"max_uses_per_user": 1, "_used_by_me": True},
     "❌ Вы уже использовали этот промокод максимальное количество раз."),
])
async def test_each_promo_refusal_has_its_own_message(bot_env, make_user, code, terms, message):
    if terms is not None:
        terms = dict(terms)
        someone, me = terms.pop("_used_by_someone", False), terms.pop("_used_by_me", False)
        await bot_env.orm(promo_code_create, code=code, type=PromokodeType.BALANCE, balance_amount=Decimal("5"),
                          **terms)
        if someone:
            await bot_env.orm(promo_code_activate, user=await bot_env.orm(make_user), code=code)
        if me:
            await bot_env.orm(promo_code_activate, user=await bot_env.orm(make_user, telegram_id=7003), code=code)
    bot_env.feed(updates.message(7003, f"/promo {code}"))
    call = await bot_env.wait_for("sendMessage", to(7003))
    assert message in call.text
    assert f"<code>{code}</code>" in call.text


@pytest.mark.usefixtures("topup_packages")
async def test_a_discount_code_lowers_the_invoice_and_the_payment_uses_it_up(bot_env):
    await bot_env.orm(promo_code_create, code="SALE20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    bot_env.feed(updates.message(7010, "/promo SALE20"))
    await bot_env.wait_for("sendMessage", to(7010, "Скидка 20%"))
    bot_env.feed(updates.callback(7010, "balance_top_up"))
    packages = await bot_env.wait_for("sendMessage", to(7010, "Пополнение баланса"))
    assert "скидка 20% уже учтена" in packages.text.lower()
    assert "150 монет — 120 ⭐ (150)" in [b["text"] for b in packages.buttons()]
    choice = next(b["callback_data"] for b in packages.buttons() if b["text"].startswith("150 монет"))
    bot_env.feed(updates.callback(7010, choice))
    invoice = await bot_env.wait_for("sendInvoice", to(7010))
    assert invoice.json("prices")[0]["amount"] == 120
    payload = invoice.data["payload"]
    bot_env.feed(updates.pre_checkout(7010, payload=payload, total_amount=120))
    assert (await bot_env.wait_for("answerPreCheckoutQuery")).data["ok"] in (True, "true")
    bot_env.feed(updates.successful_payment(7010, payload=payload, total_amount=120, charge_id="sale-1"))
    paid = await bot_env.wait_for("sendMessage", to(7010, "Оплата получена"))
    assert "Начислено 150 монет" in paid.text
    # The discount is used up: the same invoice cannot be paid again, and the next offer is at full price.
    bot_env.feed(updates.pre_checkout(7010, payload=payload, total_amount=120))
    answers = await bot_env.wait_for("answerPreCheckoutQuery", count=2)
    assert answers[1].data["ok"] in (False, "false")
    bot_env.feed(updates.callback(7010, "balance_top_up"))
    again = await bot_env.wait_for("sendMessage", to(7010, "Пополнение баланса"), count=2)
    assert "150 монет — 150 ⭐" in [b["text"] for b in again[1].buttons()]
