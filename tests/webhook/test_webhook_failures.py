"""An update whose handling fails is not recorded as handled: the endpoint answers 500 and Telegram's re-send is
handled (handlers are idempotent, keyed in the database)."""

import pytest

from accounts.models import User
from botworker.models import ProcessedUpdate
from botworker.webhook import _Runtime
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_update_whose_handling_raises_gets_500_is_not_recorded_and_its_resend_is_handled(
        webhook_env, monkeypatch):
    dispatcher, _ = _Runtime.get()
    real_feed_update = dispatcher.feed_update
    failures = []

    async def fails_once(bot, update, **kwargs):
        # Past the dispatcher's own error handler: an infrastructure failure (database gone, a bug in the errors
        # handler) that reaches the webhook view.
        if not failures:
            failures.append(update.update_id)
            raise ConnectionError("the database went away")
        return await real_feed_update(bot, update, **kwargs)

    monkeypatch.setattr(dispatcher, "feed_update", fails_once)
    update = dict(updates.message(6101, "/start"), update_id=601)

    response = await webhook_env.post(update)
    assert response.status_code == 500  # Telegram re-sends an update that was not answered 2xx
    assert failures == [601]
    assert not await ProcessedUpdate.objects.filter(update_id=601).aexists()
    assert webhook_env.api.calls_of("sendMessage") == []

    assert (await webhook_env.post(update)).status_code == 200  # the re-send
    assert await User.objects.filter(telegram_id=6101).aexists()
    assert await ProcessedUpdate.objects.filter(update_id=601).aexists()
    assert len(webhook_env.api.calls_of("sendMessage")) == 1
    assert (await webhook_env.post(update)).status_code == 200  # a later duplicate is still dropped
    assert len(webhook_env.api.calls_of("sendMessage")) == 1
