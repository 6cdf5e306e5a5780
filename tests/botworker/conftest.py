"""End-to-end bot fixtures: the real bot and dispatcher polling the tests' own Bot API server over HTTP.

``bot_env`` (async, needs the database with ``transaction=True``)::

    @pytest.mark.django_db(transaction=True)
    async def test_start_shows_the_main_menu(bot_env):
        bot_env.feed(updates.message(42, "/start"))
        call = await bot_env.wait_for("sendMessage", lambda c: c.data["chat_id"] == 42)
        assert "menu:balance" in call.callback_datas()
        user = await bot_env.orm(User.objects.get, telegram_id=42)

What it gives:
- ``bot_env.api`` — the ``FakeBotAPI`` (``fail``, ``block_user``, ``add_file``, ``calls_of``, ``results``...);
- ``bot_env.feed(*updates)`` — queue updates for ``getUpdates`` (builders in ``tests.support.updates``);
- ``await bot_env.wait_for(method, predicate=None, timeout=10, count=1)`` — ``api.wait_for`` run in a thread, so
  the bot (polling in this test's event loop) keeps running while the test waits. Never call ``api.wait_for``
  directly from an async test: it blocks the loop the bot runs in;
- ``await bot_env.orm(func, *args, **kwargs)`` — run ORM code on the bot's ORM thread (``botworker.orm.db``);
- ``await bot_env.idle()`` — wait until every fed update was fetched and handled;
- ``bot_env.bot``, ``bot_env.dp``, ``bot_env.poller`` — the real ``create_bot(...)``, ``create_dispatcher()`` and
  ``botworker.polling.UpdatePoller`` (retrying a failing update after 0.05 s, 0.1 s, ... instead of seconds).
Polling runs as a background task (``poller.run(handle_signals=False)``) and is stopped, and the server shut down,
when the test ends.
"""

import asyncio
import time
from dataclasses import dataclass

import pytest

from botworker.dispatcher import allowed_updates, create_bot, create_dispatcher
from botworker.orm import db
from botworker.polling import RetryPolicy, UpdatePoller
from tests.support.botapi import TOKEN, FakeBotAPI


@dataclass
class BotEnv:
    api: FakeBotAPI
    bot: object
    dp: object
    poller: UpdatePoller
    task: asyncio.Task

    def feed(self, *updates: dict) -> list[int]:
        return self.api.feed(*updates)

    async def wait_for(self, method: str, predicate=None, *, timeout: float = 10, count: int = 1):
        return await asyncio.to_thread(self.api.wait_for, method, predicate, timeout=timeout, count=count)

    async def orm(self, func, /, *args, **kwargs):
        return await db(func, *args, **kwargs)

    async def idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        # An update leaves the fake server's queue only when a getUpdates confirms it, which the poller sends once
        # the update is settled.
        while self.api.pending_updates() or self.poller.busy:
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not finish the fed updates in time")
            await asyncio.sleep(0.02)


# Quick retries, so that tests of failing updates do not wait seconds.
TEST_RETRY = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.5)


def start_poller(bot, dp, *, retry: RetryPolicy = TEST_RETRY) -> tuple[UpdatePoller, asyncio.Task]:
    poller = UpdatePoller(bot, dp, polling_timeout=1, allowed_updates=allowed_updates(dp), retry=retry)
    return poller, asyncio.create_task(poller.run(handle_signals=False))


@pytest.fixture
async def bot_env(transactional_db):
    api = FakeBotAPI().start()
    bot = create_bot(TOKEN, api_url=api.base_url)
    dp = create_dispatcher()
    poller, task = start_poller(bot, dp)
    env = BotEnv(api=api, bot=bot, dp=dp, poller=poller, task=task)
    try:
        yield env
    finally:
        poller.stop()
        await task
        await bot.session.close()
        api.stop()


@pytest.fixture
def topup_packages(transactional_db):
    """Two active Stars packages (transactional tests flush the seeded ones) and one inactive."""
    from payments.models import TopUpPackage

    TopUpPackage.objects.all().delete()
    return [
        TopUpPackage.objects.create(title="Старт", stars=150, credits=150, sort_order=1),
        TopUpPackage.objects.create(title="Популярный", stars=250, credits=250, bonus_credits=25, sort_order=2),
        TopUpPackage.objects.create(title="Старый", stars=99, credits=99, sort_order=3, is_active=False),
    ]
