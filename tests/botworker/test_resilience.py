"""The worker keeps going: a crashing handler, Bot API flood limits and 5xx, a restart, a database restart."""

import asyncio
import logging
import subprocess
import time

import pytest
from django.db import connection

from accounts.models import User, UserState
from botworker.callbacks import Menu, MenuSection
from botworker.dispatcher import create_bot, create_dispatcher
from tests.botworker.conftest import start_poller
from tests.support import updates
from tests.support.botapi import TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


async def test_a_crashing_handler_is_logged_the_user_gets_an_apology_and_the_next_update_works(bot_env, caplog):
    caplog.set_level(logging.ERROR, logger="botworker.dispatcher")
    # The welcome message fails with an error no handler expects, so the /start handler raises.
    bot_env.api.fail("sendMessage", 400, "Bad Request: chat not found", when=lambda d: "Привет" in d.get("text", ""))
    bot_env.feed(updates.message(8001, "/start"))
    apology = await bot_env.wait_for("sendMessage", to(8001, "Что-то пошло не так"))
    assert "Traceback" not in apology.text and "chat not found" not in apology.text
    failed = [r for r in caplog.records if r.name == "botworker.dispatcher" and r.exc_info]
    assert failed and "chat not found" in str(failed[0].exc_info[1])
    bot_env.feed(updates.message(8001, "/start"))
    await bot_env.wait_for("sendMessage", to(8001, "Привет"))


async def test_a_crash_in_a_callback_is_answered_so_the_spinner_stops(bot_env):
    bot_env.api.fail("sendMessage", 400, "Bad Request: boom", when=lambda d: "Ваш баланс" in d.get("text", ""))
    bot_env.feed(updates.callback(8002, Menu(section=MenuSection.BALANCE).pack()))
    await bot_env.wait_for("sendMessage", to(8002, "Что-то пошло не так"))
    assert bot_env.api.calls_of("answerCallbackQuery")


async def test_a_user_who_blocked_the_bot_is_remembered_not_apologised_to(bot_env, caplog):
    bot_env.api.block_user(8007)
    bot_env.feed(updates.message(8007, "/start"))
    await bot_env.wait_for("sendMessage", to(8007))
    await bot_env.idle()
    assert len(bot_env.api.calls_of("sendMessage")) == 1
    user = await bot_env.orm(User.objects.get, telegram_id=8007)
    assert user.bot_blocked_at is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_429_from_the_bot_api_is_waited_out(bot_env):
    bot_env.api.fail("sendMessage", 429, retry_after=1)
    bot_env.feed(updates.message(8003, "/start"))
    calls = await bot_env.wait_for("sendMessage", to(8003, "Привет"), count=2)
    assert calls[1].at - calls[0].at >= 0.9  # the same message again, after retry_after


async def test_5xx_answers_are_retried(bot_env):
    bot_env.api.fail("sendMessage", 502, "Bad Gateway", times=2)
    bot_env.feed(updates.message(8004, "/help"))
    calls = await bot_env.wait_for("sendMessage", to(8004, "Помощь"), count=3)
    assert len(calls) == 3


async def test_conversation_state_is_kept_in_the_database_across_a_restart(bot_env):
    bot_env.feed(updates.callback(8005, Menu(section=MenuSection.PROMO).pack()))
    await bot_env.wait_for("sendMessage", to(8005, "Введите промокод"))
    await bot_env.idle()
    row = await bot_env.orm(UserState.objects.get, user__telegram_id=8005)
    assert row.state_data["state"] == "PromoStates:waiting_code"
    bot_env.poller.stop()
    await bot_env.task

    # A new bot and dispatcher (a restarted worker) against the same database.
    bot = create_bot(TOKEN, api_url=bot_env.api.base_url)
    poller, task = start_poller(bot, create_dispatcher())
    try:
        bot_env.feed(updates.message(8005, "NOSUCHCODE"))
        await bot_env.wait_for("sendMessage", to(8005, "Промокод не найден"))
    finally:
        poller.stop()
        await task
        await bot.session.close()


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """The restart also kills this thread's connection, which pytest-django needs to flush the database."""
    yield
    connection.close()


@pytest.mark.postgres
async def test_the_worker_survives_a_postgresql_restart(bot_env, test_thread_reconnects):
    bot_env.feed(updates.message(8006, "/start"))
    await bot_env.wait_for("sendMessage", to(8006, "Привет"))
    await bot_env.idle()
    port = connection.settings_dict["PORT"]
    started = time.monotonic()
    await asyncio.to_thread(subprocess.run, ["bash", "scripts/postgres", "restart"], check=True,
                            env={"PGPORT": str(port), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    assert time.monotonic() - started < 60
    bot_env.feed(updates.callback(8006, Menu(section=MenuSection.BALANCE).pack()))
    await bot_env.wait_for("sendMessage", to(8006, "Ваш баланс"), timeout=20)
    assert all("Что-то пошло не так" not in c.text for c in bot_env.api.calls_of("sendMessage"))
