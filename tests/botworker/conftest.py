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
- ``bot_env.bot``, ``bot_env.dp`` — the real ``create_bot(...)`` and ``create_dispatcher()``.
Polling runs as a background task (``dp.start_polling(bot, handle_signals=False)``) and is stopped, and the
server shut down, when the test ends.
"""

import asyncio
import time
from dataclasses import dataclass

import pytest

from botworker.dispatcher import allowed_updates, create_bot, create_dispatcher
from botworker.orm import db
from tests.support.botapi import TOKEN, FakeBotAPI


@dataclass
class BotEnv:
    api: FakeBotAPI
    bot: object
    dp: object
    task: asyncio.Task

    def feed(self, *updates: dict) -> list[int]:
        return self.api.feed(*updates)

    async def wait_for(self, method: str, predicate=None, *, timeout: float = 10, count: int = 1):
        return await asyncio.to_thread(self.api.wait_for, method, predicate, timeout=timeout, count=count)

    async def orm(self, func, /, *args, **kwargs):
        return await db(func, *args, **kwargs)

    async def idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        # An update leaves the fake server's queue only when the next getUpdates confirms it, which aiogram sends
        # after it has started a task for each update of the previous batch.
        while self.api.pending_updates() or self.dp._handle_update_tasks:
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not finish the fed updates in time")
            await asyncio.sleep(0.02)


@pytest.fixture
async def bot_env(transactional_db):
    api = FakeBotAPI().start()
    bot = create_bot(TOKEN, api_url=api.base_url)
    dp = create_dispatcher()
    task = asyncio.create_task(dp.start_polling(
        bot, handle_signals=False, polling_timeout=1, allowed_updates=allowed_updates(dp)))
    env = BotEnv(api=api, bot=bot, dp=dp, task=task)
    await env.wait_for("getMe")
    try:
        yield env
    finally:
        if not task.done():
            await dp.stop_polling()
        await task
        api.stop()


@pytest.fixture
def topup_packages(transactional_db):
    """Two active Stars packages (transactional tests flush the seeded ones) and one inactive."""
    from billing.models import TopUpPackage

    TopUpPackage.objects.all().delete()
    return [
        TopUpPackage.objects.create(title="Старт", stars=150, credits=150, sort_order=1),
        TopUpPackage.objects.create(title="Популярный", stars=250, credits=250, bonus_credits=25, sort_order=2),
        TopUpPackage.objects.create(title="Старый", stars=99, credits=99, sort_order=3, is_active=False),
    ]
