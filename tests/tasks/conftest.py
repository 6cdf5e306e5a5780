"""Real ``db_worker`` subprocesses on the live test database (PostgreSQL), talking to the tests' fake Bot API."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from tests.support.botapi import TOKEN, FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def live_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(api: FakeBotAPI | None = None, **extra: str) -> dict[str, str]:
    """The production settings (not settings_test) with the database task backend, on the test database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "TASKS_BACKEND")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=live_database_url(),
               TASKS_BACKEND="django_tasks_db.DatabaseBackend", SECRET_KEY="tests-only", DEBUG="false",
               BOT_TOKEN=TOKEN, LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    if api is not None:
        env["BOT_API_URL"] = api.base_url
    env.update(extra)
    return env


class Workers:
    def __init__(self, api: FakeBotAPI, tmp_path: Path):
        self.api, self.tmp_path = api, tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, count: int = 1, **env: str) -> list[subprocess.Popen]:
        started = []
        for _ in range(count):
            n = len(self.procs)
            log = open(self.tmp_path / f"worker-{n}.log", "wb")
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.05",
                 "--no-startup-delay", "--worker-id", f"test-worker-{n}-{os.getpid()}"],
                cwd=ROOT, env=subprocess_env(self.api, **env), stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(proc)
            started.append(proc)
        return started

    def wait_ready(self) -> None:
        """Block until every worker has booted Django and polls the queue (its start-up line is logged)."""
        wait_until(lambda: all("Starting worker" in p.read_text(errors="replace")
                               for p in self.tmp_path.glob("worker-*.log")), timeout=60, message="workers to boot")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.tmp_path.glob("worker-*.log")))


def wait_until(condition, *, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def api():
    with FakeBotAPI() as server:
        yield server


@pytest.fixture
def database_tasks():
    """Enqueue into the database (as production does) instead of running tasks at once."""
    with override_settings(TASKS=DB_BACKEND):
        yield


@pytest.fixture
def workers(api, tmp_path, database_tasks):
    pool = Workers(api, tmp_path)
    yield pool
    pool.stop()
