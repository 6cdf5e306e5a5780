"""Polling never loses an update to an infrastructure failure: the database failing while a payment is handled
(a trigger on the ledger, a terminated backend, the server stopped) gets the update handled again before its
offset is confirmed to Telegram; an update that keeps failing is recorded for an operator, and only then
confirmed. Domain errors are still answered in the bot (tests/botworker/test_resilience.py)."""

import asyncio
import inspect
import logging
import time
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Transaction
from botworker.callbacks import Menu, MenuSection, TopUpPackageChoice
from botworker.models import FailedUpdate
from payments.invoices import Invoice
from payments.models import TopUpPackage
from promocodes import services as promo_services
from promocodes.models import PromokodeType, PromokodeUsage
from tests.support import updates
from tests.support.botapi import TOKEN
from tests.support.faults import database_unavailable, failing_writes

pytestmark = pytest.mark.django_db(transaction=True)

APOLOGY = "Что-то пошло не так"


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


async def eventually(check, *, timeout: float = 20, message: str = "condition"):
    """``check()``'s first truthy value (it may return an awaitable), polling while the bot runs."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


def apologies_to(bot_env, user_id: int) -> list:
    return [call for call in bot_env.api.calls_of("sendMessage") if to(user_id, APOLOGY)(call)]


def logged(caplog, text: str, count: int = 1) -> bool:
    return sum(text in record.getMessage() for record in caplog.records) >= count


async def discounted_invoice(bot_env, user_id: int) -> tuple[str, int]:
    """Through the bot: a 50% code activated, an invoice for a package, its pre-checkout accepted."""
    await bot_env.orm(promo_services.promo_code_create, code=f"HALF{user_id}", type=PromokodeType.DISCOUNT,
                      discount_percent=Decimal("50"))
    bot_env.feed(updates.message(user_id, f"/promo HALF{user_id}"))
    await bot_env.wait_for("sendMessage", to(user_id, "Скидка 50%"))
    package = await bot_env.orm(TopUpPackage.objects.create, title="Старт", stars=150, credits=Decimal("150"))
    bot_env.feed(updates.callback(user_id, TopUpPackageChoice(package_id=package.pk).pack()))
    invoice = await bot_env.wait_for("sendInvoice", to(user_id))
    payload, price = invoice.data["payload"], invoice.json("prices")[0]["amount"]
    assert price == 75
    bot_env.feed(updates.pre_checkout(user_id, payload=payload, total_amount=price))
    answer = await bot_env.wait_for("answerPreCheckoutQuery")
    assert answer.data["ok"] in (True, "true")
    return payload, price


def paid(user_id: int) -> tuple[int, int]:
    """(ledger entries of the payment, discounts consumed) of the user."""
    return (Transaction.objects.filter(idempotency_key=f"stars:charge-{user_id}").count(),
            PromokodeUsage.objects.filter(user__telegram_id=user_id, consumed_at__isnull=False).count())


@pytest.mark.postgres
@pytest.mark.parametrize("terminate", [False, True], ids=["ledger-insert-raises", "backend-terminated"])
async def test_a_payment_that_loses_the_database_once_is_retried_before_its_offset_moves_and_credits_once(
        bot_env, terminate):
    user_id = 7601 + terminate
    payload, price = await discounted_invoice(bot_env, user_id)
    with failing_writes("transactions", times=1, terminate=terminate) as fault:
        (update_id,) = bot_env.feed(updates.successful_payment(user_id, payload=payload, total_amount=price,
                                                               charge_id=f"charge-{user_id}"))
        receipt = await bot_env.wait_for("sendMessage", to(user_id, "Оплата получена"))
        await bot_env.idle()
        assert await asyncio.to_thread(fault.hits) == 1  # it did fail once
    # Telegram was told the update was done only after the retry had handled it.
    assert bot_env.api.first_confirmation_of(update_id) > receipt.at
    assert await bot_env.orm(paid, user_id) == (1, 1)  # credited once, the discount consumed
    assert len(bot_env.api.calls_of("sendMessage")) == 2  # the promo answer and one receipt, no apology
    assert not await bot_env.orm(FailedUpdate.objects.exists)


async def test_an_update_that_keeps_failing_is_recorded_for_an_operator_and_only_then_confirmed(
        bot_env, caplog, settings):
    caplog.set_level(logging.WARNING, logger="botworker.polling")
    settings.BOT_TOKEN = TOKEN
    user_id = 7611
    bot_env.feed(updates.message(user_id, "/start"))
    await bot_env.wait_for("sendMessage", to(user_id, "Привет"))
    package = await bot_env.orm(TopUpPackage.objects.create, title="Старт", stars=50, credits=Decimal("100"))
    payload = Invoice(telegram_user_id=user_id, package_id=package.pk, stars=50).payload()

    # The error's text quotes the bot token (as a connection or HTTP error may quote a secret).
    with failing_writes("transactions", message=f"near {TOKEN}"), failing_writes("bot_failed_updates") as recording:
        (update_id,) = bot_env.feed(updates.successful_payment(user_id, payload=payload, total_amount=50,
                                                               charge_id=f"charge-{user_id}"))
        # Out of tries, and the record cannot be written either: the update stays unconfirmed, tried again.
        await eventually(lambda: logged(caplog, "cannot be recorded either", count=2), message="record attempts")
        assert bot_env.api.first_confirmation_of(update_id) is None
        assert not await bot_env.orm(FailedUpdate.objects.exists)
        recording_works_from = time.monotonic()
        await asyncio.to_thread(recording.stop)
        row = await eventually(lambda: bot_env.orm(FailedUpdate.objects.filter(update_id=update_id).first),
                               message="the failed update's row")
    await eventually(lambda: bot_env.api.first_confirmation_of(update_id), message="the offset to move past it")
    assert bot_env.api.first_confirmation_of(update_id) > recording_works_from

    assert row.update_type == "message" and row.telegram_user_id == user_id
    assert row.payload["update_id"] == update_id
    assert row.payload["message"]["successful_payment"]["telegram_payment_charge_id"] == f"charge-{user_id}"
    assert row.error_type.startswith("django.db") and "test fault on transactions" in row.error_message
    assert row.attempts >= 3 and row.resolved_at is None
    assert TOKEN not in row.error_message and "[secret]" in row.error_message
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]
    assert logged(caplog, "recorded as a failed update for an operator")
    assert await bot_env.orm(paid, user_id) == (0, 0)
    # No apology for a payment (it would invite paying again); the poller moves on to the next update.
    assert not apologies_to(bot_env, user_id)
    bot_env.feed(updates.message(user_id, "/help"))
    await bot_env.wait_for("sendMessage", to(user_id, "Помощь"))


@pytest.mark.postgres  # on SQLite the trigger's abort is an IntegrityError, which the user upsert takes for a race
async def test_a_message_that_keeps_failing_gets_an_apology_once_recorded(bot_env):
    with failing_writes("users"):
        (update_id,) = bot_env.feed(updates.message(7621, "/start"))
        await bot_env.wait_for("sendMessage", to(7621, APOLOGY))
    row = await bot_env.orm(FailedUpdate.objects.get, update_id=update_id)
    assert row.telegram_user_id == 7621 and row.update_type == "message"
    assert not await bot_env.orm(FailedUpdate.objects.exclude(update_id=update_id).exists)


async def test_an_update_that_cannot_be_read_is_recorded_at_once_and_polling_moves_on(bot_env):
    (update_id,) = bot_env.feed({"message": {"message_id": "not a number", "chat": {"id": 7625}}})
    row = await eventually(lambda: bot_env.orm(FailedUpdate.objects.filter(update_id=update_id).first),
                           message="the unreadable update's row")
    assert row.update_type == "message" and row.error_type == "pydantic_core._pydantic_core.ValidationError"
    assert row.attempts == 3 and row.payload["message"]["message_id"] == "not a number"
    bot_env.feed(updates.message(7625, "/help"))
    await bot_env.wait_for("sendMessage", to(7625, "Помощь"))
    assert bot_env.api.first_confirmation_of(update_id) is not None


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """The outage also ends this thread's session, which pytest-django needs to flush the database."""
    yield
    connection.close()


@pytest.mark.postgres
async def test_an_update_arriving_while_the_database_is_down_stays_unconfirmed_and_is_handled_when_it_is_back(
        bot_env, caplog, test_thread_reconnects):
    caplog.set_level(logging.WARNING, logger="botworker.polling")
    bot_env.feed(updates.message(7631, "/start"))
    await bot_env.wait_for("sendMessage", to(7631, "Привет"))
    await bot_env.idle()
    with database_unavailable():
        (update_id,) = bot_env.feed(updates.callback(7631, Menu(section=MenuSection.BALANCE).pack()))
        await eventually(lambda: logged(caplog, "cannot be recorded either", count=2), message="record attempts")
        assert bot_env.api.first_confirmation_of(update_id) is None
    await bot_env.wait_for("sendMessage", to(7631, "Ваш баланс"), timeout=30)
    await bot_env.idle()
    assert bot_env.api.first_confirmation_of(update_id) is not None
    assert not await bot_env.orm(FailedUpdate.objects.exists)  # handled after all: nothing for an operator
    assert not apologies_to(bot_env, 7631)
