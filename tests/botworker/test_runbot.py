"""``manage.py runbot`` as operators run it: a subprocess polling the tests' Bot API server."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from tests.support import updates
from botworker.poller_lock import poller_lock
from tests.support.botapi import BOT_ID, TOKEN, FakeBotAPI
from tests.support.processes import live_database_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def runbot(api: FakeBotAPI | None, token: str = TOKEN, *args: str, **extra_env: str) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "BOT_TOKEN": token,
           "DATABASE_URL": live_database_url(), "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", **extra_env}
    if api is not None:
        env["BOT_API_URL"] = api.base_url
    return subprocess.Popen([sys.executable, "manage.py", "runbot", "--polling-timeout", "1", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


def test_runbot_handles_updates_and_stops_on_sigterm_with_exit_code_0(api):
    # Updates waiting before the start are handled, not dropped.
    api.feed(updates.message(9001, "/start"))
    process = runbot(api)
    try:
        api.wait_for("sendMessage", to(9001, "Привет"), timeout=30)
        # An update in hand when SIGTERM arrives (waiting out a flood limit) is finished before the exit.
        api.fail("sendMessage", 429, retry_after=2)
        api.feed(updates.message(9002, "/paysupport"))
        api.wait_for("sendMessage", to(9002, "оплат"), timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = finish(process)
    assert code == 0, err
    assert len(api.calls_of("sendMessage")) == 3  # the welcome, the refused answer, and its retry
    assert "Traceback" not in err
    assert "Bot stopped." in out
    assert not [c for c in api.calls_of("deleteWebhook") if c.data.get("drop_pending_updates") in (True, "true")]
    assert User.objects.filter(telegram_id__in=[9001, 9002]).count() == 2
    commands = api.calls_of("setMyCommands")[0].json("commands")
    assert {"start", "balance", "promo", "help", "paysupport"} == {c["command"] for c in commands}
    allowed = api.last_get_updates["allowed_updates"]
    assert {"message", "callback_query", "pre_checkout_query"} <= set(
        json.loads(allowed) if isinstance(allowed, str) else allowed)


def test_a_second_runbot_for_the_same_bot_is_refused(api):
    # This process plays the running poller: it holds the lock (advisory on PostgreSQL, a file otherwise).
    with poller_lock(BOT_ID):
        with pytest.raises(CommandError, match="Another runbot already polls bot 123456789"):
            call_command("runbot", "--polling-timeout", "1")
    assert not api.calls_of("getUpdates")


def test_runbot_refuses_to_poll_while_a_webhook_is_set(api):
    api.webhook_url = "https://example.com/telegram/webhook/"
    with pytest.raises(CommandError, match="A webhook is set for @test_bot"):
        call_command("runbot")
    assert api.webhook_url  # left in place


def test_runbot_with_a_malformed_token_refuses_to_start(settings):
    settings.BOT_TOKEN = "not-a-token"
    with pytest.raises(CommandError, match="BOT_TOKEN is malformed"):
        call_command("runbot")


def test_runbot_without_a_token_prints_one_line_and_exits_1():
    code, out, err = finish(runbot(None, ""))
    assert code == 1
    errors = [line for line in err.splitlines() if "CommandError" in line]
    assert errors == ["CommandError: BOT_TOKEN is not set: put the token from @BotFather in the environment or .env."]
    assert "Traceback" not in err
