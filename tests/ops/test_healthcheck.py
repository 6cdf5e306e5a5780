"""bot_healthcheck: exit 0 only when getMe answers and the database answers; a clear line for each failure."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from tests.support.botapi import TOKEN

ROOT = Path(__file__).resolve().parents[2]


def _run(**kwargs):
    out, err = StringIO(), StringIO()
    try:
        call_command("bot_healthcheck", stdout=out, stderr=err, **kwargs)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_passes_when_the_bot_api_and_the_database_answer(api, db):
    code, out, err = _run()
    assert code == 0 and err == ""
    assert "OK bot api: @test_bot" in out and "OK database" in out
    assert api.calls_of("getMe")


def test_fails_with_one_line_when_the_bot_api_is_down(db, settings):
    settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, "http://127.0.0.1:9"
    code, out, err = _run()
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("FAIL bot api: ")
    assert "OK database" in out


def test_fails_when_the_token_is_rejected(api, db, settings):
    settings.BOT_TOKEN = "1:wrong"
    code, out, err = _run()
    assert code == 1 and "FAIL bot api: TelegramUnauthorizedError" in err


def test_fails_with_one_line_when_the_database_is_unreachable(api):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "BOT_TOKEN": TOKEN,
           "BOT_API_URL": api.base_url, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nothing"}
    done = subprocess.run([sys.executable, "manage.py", "bot_healthcheck"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    fails = [line for line in done.stderr.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL database: OperationalError")
    assert "OK bot api: @test_bot" in done.stdout


def test_without_a_token_it_says_bot_token_is_not_set(db, settings):
    settings.BOT_TOKEN = ""
    code, out, err = _run()
    assert code == 1
    assert err == "FAIL bot api: BOT_TOKEN is not set\n"
    assert "OK database" in out
