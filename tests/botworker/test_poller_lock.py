"""The single-poller lock survives a PostgreSQL restart: re-taken when free, reported lost when another took it."""

import signal
import subprocess
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from botworker.exceptions import PollerAlreadyRunning
from botworker.poller_lock import ADVISORY_NAMESPACE, LockState, poller_lock
from tests.botworker.test_runbot import finish, runbot
from tests.support import updates
from tests.support.botapi import BOT_ID, TOKEN, FakeBotAPI

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """A restart also kills this thread's connection, which pytest-django needs to flush the database."""
    yield
    connection.close()


def restart_postgresql() -> None:
    port = connection.settings_dict["PORT"]
    subprocess.run(["bash", "scripts/postgres", "restart"], check=True, timeout=60,
                   env={"PGPORT": str(port), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


def holders_of_the_lock() -> int:
    observer = connections.create_connection("default")
    try:
        with observer.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid"
                           " AND objid = %s::oid AND objsubid = 2 AND granted", [ADVISORY_NAMESPACE, BOT_ID])
            return cursor.fetchone()[0]
    finally:
        observer.close()


def test_a_held_lock_is_confirmed_by_the_check():
    with poller_lock(BOT_ID) as lock:
        assert lock.check() is LockState.HELD
        with pytest.raises(PollerAlreadyRunning):
            with poller_lock(BOT_ID):
                pass


def test_after_a_postgresql_restart_the_check_re_takes_the_lock(test_thread_reconnects):
    with poller_lock(BOT_ID) as lock:
        restart_postgresql()
        assert holders_of_the_lock() == 0  # the restart ended the session and its lock with it
        assert lock.check() is LockState.HELD
        assert holders_of_the_lock() == 1
        with pytest.raises(PollerAlreadyRunning):  # a second runbot is refused again
            with poller_lock(BOT_ID):
                pass
    assert holders_of_the_lock() == 0  # released on exit


def test_after_a_postgresql_restart_a_lock_taken_by_another_process_is_reported_lost(test_thread_reconnects):
    with poller_lock(BOT_ID) as lock:
        restart_postgresql()
        with poller_lock(BOT_ID):  # a second runbot started while the first one's session was gone
            assert lock.check() is LockState.LOST
            assert holders_of_the_lock() == 1  # the other one's; the loser does not keep a session open
            assert lock.check() is LockState.LOST


def test_runbot_stops_polling_and_exits_1_when_another_process_took_its_lost_lock(settings):
    with FakeBotAPI() as api:
        settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, api.base_url
        process = runbot(api, TOKEN, "--lock-check-interval", "0.5")
        taker = connections.create_connection("default")
        try:
            api.feed(updates.message(9101, "/start"))
            api.wait_for("sendMessage", lambda call: "Привет" in call.text, timeout=30)  # it polls
            # The runbot's lock session ends (as in a restart) and, in the same breath, this process takes the lock,
            # before the runbot's next check could re-take it.
            with taker.cursor() as cursor:
                cursor.execute(
                    f"DO $$ BEGIN PERFORM pg_terminate_backend(pid, 10000) FROM pg_locks"
                    f" WHERE locktype = 'advisory' AND classid = {ADVISORY_NAMESPACE}::oid AND objid = {BOT_ID}::oid"
                    f" AND objsubid = 2 AND granted;"
                    f" IF NOT pg_try_advisory_lock({ADVISORY_NAMESPACE}, {BOT_ID}) THEN RAISE EXCEPTION 'not taken'; END IF;"
                    f" END $$")
            code, _, err = finish(process, timeout=30)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                finish(process)
            taker.close()
    assert code == 1, err
    assert "Another runbot took the single-poller lock" in err  # the log line
    assert "the single-poller lock was lost" in err  # the CommandError
    assert "Traceback" not in err


def test_runbot_re_takes_its_lock_after_a_postgresql_restart_and_keeps_polling(settings, test_thread_reconnects):
    with FakeBotAPI() as api:
        settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, api.base_url
        process = runbot(api, TOKEN, "--lock-check-interval", "0.5")
        try:
            api.feed(updates.message(9102, "/start"))
            api.wait_for("sendMessage", lambda call: "Привет" in call.text, timeout=30)
            restart_postgresql()
            deadline = time.monotonic() + 20
            while holders_of_the_lock() == 0:  # runbot re-takes it on its next check
                assert time.monotonic() < deadline, "runbot did not re-take its lock after the restart"
                time.sleep(0.1)
            with pytest.raises(CommandError, match="Another runbot already polls bot 123456789"):
                call_command("runbot", "--polling-timeout", "1")  # so a second runbot is refused again
            api.feed(updates.message(9103, "/start"))
            api.wait_for("sendMessage", lambda call: str(call.data.get("chat_id")) == "9103", timeout=20)
            assert process.poll() is None  # still polling
        finally:
            process.send_signal(signal.SIGTERM)
            code, _, err = finish(process)
    assert code == 0, err
    assert "was lost with its database session and is re-taken" in err
