"""Telegram Stars top-ups in the bot end to end: the packages, the invoice, the pre-checkout, the payment."""

import pytest

from accounts.models import User
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from botworker.callbacks import Menu, MenuSection, TopUpPackageChoice
from payments.models import TopUpPackage
from tests.support import updates

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("topup_packages")]


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


def flag(value) -> bool:
    """Booleans arrive form-encoded ("true"/"false")."""
    return value in (True, "true")


def first_package() -> TopUpPackage:
    return TopUpPackage.objects.filter(is_active=True).order_by("sort_order", "stars").first()


async def open_invoice(bot_env, user_id: int, package: TopUpPackage):
    bot_env.feed(updates.callback(user_id, TopUpPackageChoice(package_id=package.pk).pack()))
    return await bot_env.wait_for("sendInvoice", to(user_id))


@pytest.mark.parametrize("data", ["balance_top_up", "balance_topup"])
async def test_top_up_opens_the_packages_from_any_screen(bot_env, data):
    # The callback comes from whatever message carried the button (the photo-upload screen included): the
    # handler does not depend on the screen or on a conversation state.
    bot_env.feed(updates.callback(6002, Menu(section=MenuSection.PROMO).pack()))  # now in a text-input state
    await bot_env.wait_for("sendMessage", to(6002, "промокод"))
    bot_env.feed(updates.callback(6002, data, message_id=777))
    call = await bot_env.wait_for("sendMessage", to(6002, "Пополнение баланса"))
    packages = await bot_env.orm(lambda: list(TopUpPackage.objects.filter(is_active=True)))
    assert len(packages) == 2
    package_buttons = [b for b in call.buttons() if b["callback_data"].startswith("topup_pkg:")]
    assert [b["callback_data"] for b in package_buttons] == [
        TopUpPackageChoice(package_id=p.pk).pack() for p in sorted(packages, key=lambda p: p.sort_order)]
    assert package_buttons[1]["text"] == "250 монет +25 — 250 ⭐"


async def test_choosing_a_package_sends_a_stars_invoice_bound_to_the_user_package_and_price(bot_env):
    package = await bot_env.orm(first_package)
    invoice = await open_invoice(bot_env, 6003, package)
    assert invoice.data["currency"] == "XTR"
    assert invoice.data.get("provider_token", "") == ""
    prices = invoice.json("prices")
    assert len(prices) == 1 and prices[0]["amount"] == package.stars
    assert invoice.data["payload"] == f"topup:6003:{package.pk}:{package.stars}:-"


async def test_a_full_payment_delivered_twice_credits_once(bot_env):
    package = await bot_env.orm(first_package)
    invoice = await open_invoice(bot_env, 6004, package)
    payload = invoice.data["payload"]
    bot_env.feed(updates.pre_checkout(6004, payload=payload, total_amount=package.stars))
    answer = await bot_env.wait_for("answerPreCheckoutQuery")
    assert flag(answer.data["ok"])
    payment = updates.successful_payment(6004, payload=payload, total_amount=package.stars, charge_id="ch-6004")
    bot_env.feed(payment)
    done = await bot_env.wait_for("sendMessage", to(6004, "Оплата получена"))
    assert f"Ваш баланс: <b>{package.total_credits:.0f} монет" in done.text
    bot_env.feed(updates.successful_payment(6004, payload=payload, total_amount=package.stars, charge_id="ch-6004"))
    await bot_env.idle()

    entries = await bot_env.orm(lambda: list(Transaction.objects.filter(user__telegram_id=6004)))
    assert len(entries) == 1
    entry = entries[0]
    assert entry.type == TransactionType.TOPUP and entry.amount == package.total_credits
    assert entry.idempotency_key == "stars:ch-6004"
    assert entry.extra_data == {"telegram_payment_charge_id": "ch-6004", "invoice_payload": payload,
                                "stars": package.stars, "package_id": package.pk, "telegram_user_id": 6004}
    assert await bot_env.orm(balance_get, user=entry.user_id) == package.total_credits
    assert len(bot_env.api.calls_of("sendMessage")) == 1  # the repeat credits nothing and says nothing


async def test_a_forwarded_invoice_paid_by_another_user_is_refused_at_pre_checkout(bot_env):
    package = await bot_env.orm(first_package)
    invoice = await open_invoice(bot_env, 6005, package)
    bot_env.feed(updates.pre_checkout(6006, payload=invoice.data["payload"], total_amount=package.stars))
    answer = await bot_env.wait_for("answerPreCheckoutQuery")
    assert not flag(answer.data["ok"])
    assert "другому пользователю" in answer.data["error_message"]


async def test_pre_checkout_refuses_a_package_whose_price_changed_or_that_was_switched_off(bot_env):
    package = await bot_env.orm(first_package)
    invoice = await open_invoice(bot_env, 6007, package)
    payload = invoice.data["payload"]
    await bot_env.orm(lambda: TopUpPackage.objects.filter(pk=package.pk).update(stars=package.stars + 1))
    bot_env.feed(updates.pre_checkout(6007, payload=payload, total_amount=package.stars))
    assert not flag((await bot_env.wait_for("answerPreCheckoutQuery")).data["ok"])
    await bot_env.orm(lambda: TopUpPackage.objects.filter(pk=package.pk).update(stars=package.stars, is_active=False))
    bot_env.feed(updates.pre_checkout(6007, payload=payload, total_amount=package.stars))
    answers = await bot_env.wait_for("answerPreCheckoutQuery", count=2)
    assert not flag(answers[1].data["ok"])
    bot_env.feed(updates.pre_checkout(6007, payload="forged", total_amount=1))
    answers = await bot_env.wait_for("answerPreCheckoutQuery", count=3)
    assert not flag(answers[2].data["ok"])


async def test_a_blocked_user_cannot_pay_but_a_payment_already_made_is_credited(bot_env, make_user):
    package = await bot_env.orm(first_package)
    invoice = await open_invoice(bot_env, 6008, package)
    await bot_env.orm(lambda: User.objects.filter(telegram_id=6008).update(is_blocked=True))
    bot_env.feed(updates.pre_checkout(6008, payload=invoice.data["payload"], total_amount=package.stars))
    answer = await bot_env.wait_for("answerPreCheckoutQuery")
    assert not flag(answer.data["ok"]) and "ограничен" in answer.data["error_message"]
    # Stars already taken (blocked between pre-checkout and payment) are still credited, never lost.
    bot_env.feed(updates.successful_payment(6008, payload=invoice.data["payload"], total_amount=package.stars,
                                            charge_id="ch-6008"))
    await bot_env.idle()
    assert await bot_env.orm(lambda: Transaction.objects.filter(idempotency_key="stars:ch-6008").exists())


async def test_paysupport_answers(bot_env):
    bot_env.feed(updates.message(6011, "/paysupport"))
    call = await bot_env.wait_for("sendMessage", to(6011))
    assert "оплат" in call.text.lower() and "поддержк" in call.text


async def test_a_package_that_is_switched_off_or_unknown_sends_no_invoice(bot_env, topup_packages):
    inactive = topup_packages[2]
    bot_env.feed(updates.callback(6012, TopUpPackageChoice(package_id=inactive.pk).pack()),
                 updates.callback(6012, TopUpPackageChoice(package_id=999999).pack()))
    answers = await bot_env.wait_for("answerCallbackQuery", count=2)
    assert all("больше недоступен" in a.data["text"] for a in answers)
    await bot_env.idle()
    assert not bot_env.api.calls_of("sendInvoice")
