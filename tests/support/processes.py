"""Helpers for tests and benchmarks that run the project's own processes (db_worker, an ASGI server) as
subprocesses on the live test database, with the production settings module."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def live_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(*, database_url: str | None = None, bot_api_url: str | None = None, **extra: str) -> dict:
    """config.settings (not settings_test) with the database task backend, on the test database."""
    from tests.support.botapi import TOKEN

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "TASKS_BACKEND")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database_url or live_database_url(),
               TASKS_BACKEND="django_tasks_db.DatabaseBackend", SECRET_KEY="tests-only", DEBUG="false",
               BOT_TOKEN=TOKEN, LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
               ALLOWED_HOSTS="127.0.0.1,localhost")
    if bot_api_url:
        env["BOT_API_URL"] = bot_api_url
    env.update(extra)
    return env


def wait_until(condition, *, timeout: float = 30, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(env: dict, log: Path, *, workers: int = 1, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """The Procfile's web server (gunicorn with uvicorn workers on config.asgi) on 127.0.0.1; returns it and its URL.

    Waits until it answers /healthz."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the web server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.1, message="the web server")
    except BaseException:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
