"""The webhook endpoint: only Telegram (holding the secret) gets in, each update is handled once, and it runs the
same handlers as polling, payments included."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from accounts.models import User
from billing.models import Transaction
from billing.selectors import balance_get
from botworker.models import ProcessedUpdate
from botworker.webhook import processed_updates_prune, webhook_url
from payments.invoices import Invoice
from payments.models import TopUpPackage
from tests.support import updates
from tests.webhook.conftest import SECRET, webhook_path

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_wrong_or_missing_secret_gets_403_and_changes_nothing(webhook_env):
    start = dict(updates.message(6001, "/start"), update_id=501)
    assert (await webhook_env.post(start, secret="not-the-secret")).status_code == 403
    assert (await webhook_env.post(start, secret=None)).status_code == 403
    assert (await webhook_env.post(start, path=webhook_path("other-secret"))).status_code == 404
    assert not await ProcessedUpdate.objects.filter(update_id=501).aexists()
    assert not await User.objects.filter(telegram_id=6001).aexists()
    assert webhook_env.api.calls_of("sendMessage") == []


async def test_the_endpoint_is_closed_while_no_webhook_secret_is_set(webhook_env):
    with override_settings(BOT_WEBHOOK_SECRET=""):
        response = await webhook_env.post(dict(updates.message(6002, "/start"), update_id=502), secret="")
    assert response.status_code == 404
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_web_process_without_bot_token_refuses_with_503_and_claims_nothing(webhook_env):
    with override_settings(BOT_TOKEN=""):
        response = await webhook_env.post(dict(updates.message(6006, "/start"), update_id=506))
    assert response.status_code == 503  # Telegram re-sends it later
    assert not await ProcessedUpdate.objects.filter(update_id=506).aexists()


async def test_start_through_the_webhook_registers_the_user_and_answers(webhook_env):
    response = await webhook_env.post(dict(updates.message(6003, "/start"), update_id=503))
    assert response.status_code == 200
    # Handled inside the request: the reply was sent before the answer to Telegram.
    (reply,) = webhook_env.api.calls_of("sendMessage")
    assert str(reply.data["chat_id"]) == "6003"
    assert await User.objects.filter(telegram_id=6003).aexists()
    assert await ProcessedUpdate.objects.filter(update_id=503).aexists()


async def test_a_redelivered_update_is_answered_200_and_not_handled_again(webhook_env):
    update = dict(updates.message(6004, "/start"), update_id=504)
    assert (await webhook_env.post(update)).status_code == 200
    assert (await webhook_env.post(update)).status_code == 200
    assert len(webhook_env.api.calls_of("sendMessage")) == 1


async def test_a_body_that_is_not_an_update_gets_400(webhook_env):
    response = await webhook_env.client.post(webhook_path(), "nonsense", content_type="application/json",
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400
    assert webhook_env.api.calls == []


async def test_a_stars_payment_through_the_webhook_credits_once(webhook_env):
    user_id = 6005
    await webhook_env.post(dict(updates.message(user_id, "/start"), update_id=510))
    package = await TopUpPackage.objects.acreate(title="Старт", stars=50, credits=Decimal("100"))
    payload = Invoice(telegram_user_id=user_id, package_id=package.pk, stars=50).payload()

    await webhook_env.post(dict(updates.pre_checkout(user_id, payload=payload, total_amount=50), update_id=511))
    (answer,) = webhook_env.api.calls_of("answerPreCheckoutQuery")
    assert answer.data["ok"] in (True, "true")

    paid = updates.successful_payment(user_id, payload=payload, total_amount=50, charge_id="charge-webhook-1")
    assert (await webhook_env.post(dict(paid, update_id=512))).status_code == 200
    # Telegram re-sends the same update, and may deliver the same payment again under a new update id.
    assert (await webhook_env.post(dict(paid, update_id=512))).status_code == 200
    assert (await webhook_env.post(dict(paid, update_id=513))).status_code == 200

    user = await User.objects.aget(telegram_id=user_id)
    assert await Transaction.objects.filter(idempotency_key="stars:charge-webhook-1").acount() == 1
    assert await sync_to_async(balance_get)(user=user) == Decimal("100")
    receipts = [c for c in webhook_env.api.calls_of("sendMessage") if "Оплата получена" in c.text]
    assert len(receipts) == 1


def test_old_update_ids_are_pruned_and_recent_ones_kept(db):
    from datetime import timedelta

    from django.utils import timezone

    ProcessedUpdate.objects.create(update_id=1, processed_at=timezone.now() - timedelta(hours=49))
    ProcessedUpdate.objects.create(update_id=2, processed_at=timezone.now() - timedelta(hours=1))
    assert processed_updates_prune(keep_hours=48) == 1
    assert list(ProcessedUpdate.objects.values_list("update_id", flat=True)) == [2]


@override_settings(BOT_WEBHOOK_SECRET=SECRET)
def test_the_webhook_url_is_the_base_url_plus_the_secret_path():
    assert webhook_url("https://bot.example.com") == f"https://bot.example.com{webhook_path()}"
    assert webhook_url("https://example.com/aisha/") == f"https://example.com/aisha{webhook_path()}"
    assert webhook_url(f"https://bot.example.com{webhook_path()}") == f"https://bot.example.com{webhook_path()}"
    with pytest.raises(ValueError):
        webhook_url("bot.example.com")


def test_set_webhook_registers_url_secret_and_payment_updates_without_dropping_pending(db):
    from tests.support.botapi import TOKEN, FakeBotAPI

    with FakeBotAPI() as api, override_settings(BOT_TOKEN=TOKEN, BOT_API_URL=api.base_url,
                                                BOT_WEBHOOK_SECRET=SECRET):
        call_command("set_webhook", "--url", "https://bot.example.com")
        (call,) = api.calls_of("setWebhook")
        assert call.data["url"] == f"https://bot.example.com{webhook_path()}"
        assert call.data["secret_token"] == SECRET
        assert "pre_checkout_query" in call.json("allowed_updates")
        assert call.data.get("drop_pending_updates") in (None, False, "false")
        assert api.calls_of("setMyCommands")  # the command menu, as runbot sets it when polling
        call_command("delete_webhook")
        (deleted,) = api.calls_of("deleteWebhook")
        assert deleted.data.get("drop_pending_updates") in (None, False, "false")
        assert api.webhook_url == ""


def test_set_webhook_errors_are_one_line(db):
    from tests.support.botapi import TOKEN, FakeBotAPI

    with override_settings(BOT_TOKEN=TOKEN, BOT_WEBHOOK_SECRET=""):
        with pytest.raises(CommandError, match="BOT_WEBHOOK_SECRET"):
            call_command("set_webhook", "--url", "https://bot.example.com")
    with FakeBotAPI() as api, override_settings(BOT_TOKEN=TOKEN, BOT_API_URL=api.base_url,
                                                BOT_WEBHOOK_SECRET=SECRET):
        api.fail("setWebhook", 400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        with pytest.raises(CommandError) as info:
            call_command("set_webhook", "--url", "http://bot.example.com")
        assert "HTTPS url must be provided" in str(info.value) and "\n" not in str(info.value)
