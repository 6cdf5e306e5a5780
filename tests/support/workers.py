"""Real ``db_worker`` subprocesses on the live test database (PostgreSQL), talking to the tests' fake Bot API.

A conftest imports the fixtures ``database_tasks`` and ``workers`` from here; the root conftest provides ``api`` (the
fake Bot API server the workers send to)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from tests.support.botapi import FakeBotAPI
from tests.support.processes import ROOT, subprocess_env, wait_until

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


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
                cwd=ROOT, env=subprocess_env(bot_api_url=self.api.base_url, **env), stdout=log,
                stderr=subprocess.STDOUT)
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
