"""A broadcast never runs without a working bot: Start refuses with the reason, and a delivery that fails for a
reason of the bot's configuration (no token, a revoked token) pauses the broadcast with "Last error" instead of
leaving it running (and blocking every other broadcast)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from broadcasts import services, tasks
from broadcasts.exceptions import BroadcastBotUnavailable
from broadcasts.models import Broadcast, BroadcastStatus, RecipientStatus
from tests.broadcasts.helpers import new_broadcast, recipient_statuses


@pytest.fixture
def operator(client, db):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456"))


def _start(client, broadcast):
    change = reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
    data = {"title": broadcast.title, "text": broadcast.text, "audience": "all", "button_text": "",
            "button_url": "", "inactive_days": "", "telegram_ids": "", "preview_chat_id": "", "_start": "1"}
    return client.post(change, data, follow=True).content.decode()


def test_start_is_refused_without_a_bot_token(client, operator, bulk_users, settings):
    settings.BOT_TOKEN = ""
    bulk_users(2)
    broadcast = new_broadcast()
    page = _start(client, broadcast)
    assert "The bot cannot send messages: BOT_TOKEN is not set." in page
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT and not broadcast.recipients.exists()


def test_start_is_refused_when_telegram_does_not_answer_get_me(client, operator, api, bulk_users):
    api.fail("getMe", 401, "Unauthorized")
    bulk_users(2)
    broadcast = new_broadcast()
    page = _start(client, broadcast)
    assert "The bot cannot send messages: Telegram does not answer getMe: TelegramUnauthorizedError" in page
    assert Broadcast.objects.get().status == BroadcastStatus.DRAFT
    assert api.calls_of("sendMessage") == []


def test_start_goes_ahead_when_get_me_answers(client, operator, api, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(2)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        page = _start(client, broadcast)
    assert "The broadcast has started." in page and api.calls_of("getMe")
    assert Broadcast.objects.get().status == BroadcastStatus.RUNNING




def test_a_revoked_token_pauses_the_broadcast_with_the_reason_shown(
        client, operator, api, bulk_users, settings, django_capture_on_commit_callbacks):
    bulk_users(3)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    token, settings.BOT_TOKEN = settings.BOT_TOKEN, "123456789:revoked-token"  # the fake answers 401 to it

    tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, seconds=5)

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED
    assert "Telegram refuses the bot: TelegramUnauthorizedError" in broadcast.last_error
    assert recipient_statuses(broadcast) == {RecipientStatus.PENDING: 3}  # nobody failed: resumable
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])).content.decode()
    assert "Last error" in page and "Telegram refuses the bot: TelegramUnauthorizedError" in page
    settings.BOT_TOKEN = token  # a new token from @BotFather
    with django_capture_on_commit_callbacks(execute=False):  # another broadcast may start now
        services.broadcast_start(broadcast=new_broadcast())


def test_a_delivery_without_a_bot_token_pauses_instead_of_staying_running(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    bulk_users(2)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False) as delivery:
        services.broadcast_start(broadcast=broadcast)
    settings.BOT_TOKEN = ""  # the worker runs without the token the admin had
    for callback in delivery:
        callback()  # the delivery task, run at once (immediate backend)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED and "BOT_TOKEN is not set." in broadcast.last_error
    assert recipient_statuses(broadcast) == {RecipientStatus.PENDING: 2}
    assert api.calls_of("sendMessage") == []


def test_resume_is_refused_without_a_working_bot(api, bulk_users, settings, django_capture_on_commit_callbacks):
    bulk_users(1)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    services.broadcast_pause(broadcast=broadcast)
    settings.BOT_TOKEN = ""
    with translation.override("en"), pytest.raises(BroadcastBotUnavailable, match="BOT_TOKEN is not set."):
        services.broadcast_resume(broadcast=broadcast)
    assert Broadcast.objects.get().status == BroadcastStatus.PAUSED


def test_the_text_help_is_escaped_and_the_page_after_it_renders(client, operator, db):
    page = client.get(reverse("admin:broadcasts_broadcast_add")).content.decode()
    assert "Telegram HTML: &lt;b&gt;, &lt;i&gt;, &lt;a href&gt;, &lt;code&gt;..." in page
    assert "<b>, <i>" not in page
    assert 'name="audience"' in page and 'name="_preview"' in page
    sent = new_broadcast(status=BroadcastStatus.COMPLETED)
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[sent.pk])).content.decode()
    assert "<b>, <i>" not in page and "&lt;b&gt;, &lt;i&gt;" in page
