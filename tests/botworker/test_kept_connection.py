"""runbot's connection policy (``botworker.orm.keep_connections``): the connection is kept between updates, and a
PostgreSQL restart mid-stream loses no update, whether the dead connection is found by the failing update (which
the poller retries) or by a health check."""

import asyncio
import subprocess

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.db.backends.signals import connection_created

from botworker.callbacks import Menu, MenuSection
from botworker.orm import keep_connections
from botworker.polling import RetryPolicy
from tests.botworker.conftest import start_poller
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """A restart also kills this thread's connection, which pytest-django needs to flush the database."""
    yield
    connection.close()


@pytest.fixture(params=[False, True], ids=["retry-on-failure", "health-checks"])
async def kept_connections(request, test_thread_reconnects, bot_env):
    """runbot's policy for this test; afterwards the ORM thread's kept connection is closed (the test database is
    dropped at the end of the session) and the settings are restored."""
    saved = {alias: (connections.settings[alias]["CONN_MAX_AGE"], connections.settings[alias]["CONN_HEALTH_CHECKS"])
             for alias in connections}
    keep_connections(600, health_checks=request.param)
    yield
    await sync_to_async(connections.close_all, thread_sensitive=True)()
    for alias, (max_age, checks) in saved.items():
        for conf in (connections.settings[alias], connections[alias].settings_dict):
            conf["CONN_MAX_AGE"], conf["CONN_HEALTH_CHECKS"] = max_age, checks


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


async def test_updates_share_one_kept_connection(bot_env, kept_connections):
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(count, weak=False)
    try:
        for n, chat in enumerate((8101, 8102, 8103)):
            bot_env.feed(updates.message(chat, "/start"))
            await bot_env.wait_for("sendMessage", to(chat, "Привет"))
            await bot_env.idle()
    finally:
        connection_created.disconnect(count)
    assert len(opened) <= 1, opened  # at most the first update connects (CONN_MAX_AGE=0 opens one per update)


@pytest.mark.postgres
async def test_a_postgresql_restart_mid_stream_loses_no_update(bot_env, kept_connections):
    # Retries patient enough to outlast the restart (the fixture's give up after ~0.2 s).
    bot_env.poller.stop()
    await bot_env.task
    bot_env.poller, bot_env.task = start_poller(
        bot_env.bot, bot_env.dp, retry=RetryPolicy(attempts=30, first_delay=0.1, max_delay=1.0))
    bot_env.feed(updates.message(8111, "/start"))
    await bot_env.wait_for("sendMessage", to(8111, "Привет"))
    await bot_env.idle()
    port = connection.settings_dict["PORT"]
    chats = list(range(8120, 8140))
    restart = asyncio.create_task(asyncio.to_thread(
        subprocess.run, ["bash", "scripts/postgres", "restart"], check=True,
        env={"PGPORT": str(port), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}))
    for chat in chats:  # a stream of updates while the server goes down and comes back
        bot_env.feed(updates.message(chat, "/start"))
        await asyncio.sleep(0.1)
    await restart
    bot_env.feed(updates.callback(8111, Menu(section=MenuSection.BALANCE).pack()))
    await bot_env.wait_for("sendMessage", to(8111, "Ваш баланс"), timeout=30)
    for chat in chats:
        await bot_env.wait_for("sendMessage", to(chat, "Привет"), timeout=30)
    from accounts.models import User

    assert await bot_env.orm(lambda: User.objects.filter(telegram_id__in=chats).count()) == len(chats)
