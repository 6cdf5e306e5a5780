"""Webhook throughput: updates/s through the webhook endpoint with 1, 2 and 4 server processes, beside polling.

    DATABASE_URL=postgres://postgres@127.0.0.1:54337/aisha .venv/bin/python bench/webhook_throughput/run.py

Every mode handles the same kind of update -- ``/start`` from a new user (user upsert, FSM reset, balance read,
one ``sendMessage``) -- through the real dispatcher and handlers, on a private PostgreSQL database
(``aisha_bench_webhook``). The tests' fake Bot API (``tests/support/botapi.py``) runs in a separate process.

- ``polling``: one ``manage.py runbot``; all updates are queued on the fake server at once; timed until the last
  reply arrives. This is the baseline: every other mode is printed as a ratio to it, measured in the same run.
- ``<server> xN``: the ASGI app under ``<server>`` with N worker processes; a client in this process posts the
  updates with ``--concurrency`` connections in flight (Telegram's ``max_connections``, default 40); an update is
  handled inside its request, so the last answer is the end.
  Servers: ``gunicorn`` (gunicorn with uvicorn workers, as in the Procfile) and ``granian`` (if installed).

The client, the fake Bot API, PostgreSQL and the servers share the machine: on 2 cores, more server processes
cannot scale linearly. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import REPO, CpuClock, create_database, machine_note, median, postgres_url  # noqa: E402
from bench.common import postmaster_pid, process_tree_cpu  # noqa: E402

SECRET = "bench-webhook-secret"
WEB_ENV: dict[str, str] = {}  # extra environment of the web servers (not of runbot)
DB_NAME = "aisha_bench_webhook"
CLOCK = CpuClock(None)  # the PostgreSQL server's CPU (its postmaster is found once the database exists)


class Measured:
    """Updates/s of one mode, and CPU ms per update of its server processes and of PostgreSQL."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def __enter__(self):
        self.began = time.perf_counter()
        self.cpu = process_tree_cpu(self.proc.pid), CLOCK.postgres()
        return self

    def result(self, n: int) -> dict:
        elapsed = time.perf_counter() - self.began
        server, pg = process_tree_cpu(self.proc.pid) - self.cpu[0], CLOCK.postgres() - self.cpu[1]
        return {"per_second": n / elapsed, "server_ms": server * 1000 / n, "pg_ms": pg * 1000 / n}

    def __exit__(self, *exc):
        return False


# --- the fake Bot API in its own process --------------------------------------------------------------------------
def _fake_api_process(conn) -> None:
    from tests.support.botapi import FakeBotAPI

    api = FakeBotAPI().start()
    conn.send(api.base_url)
    while True:
        command, arg = conn.recv()
        if command == "feed":
            api.feed(*arg)
            conn.send(True)
        elif command == "count":
            conn.send(len(api.calls_of(arg)))
        elif command == "wait":
            method, count, timeout = arg
            try:
                api.wait_for(method, count=count, timeout=timeout)
                conn.send(True)
            except AssertionError as error:
                conn.send(str(error))
        elif command == "stop":
            api.stop()
            conn.send(True)
            return


class FakeAPI:
    def __init__(self):
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("spawn").Process(target=_fake_api_process, args=(child,), daemon=True)
        self.proc.start()
        self.base_url = self.conn.recv()

    def call(self, command: str, arg=None):
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self.proc.join(5)


# --- processes ----------------------------------------------------------------------------------------------------
def server_env(database_url: str, api_url: str) -> dict:
    from tests.support.botapi import TOKEN

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database_url, SECRET_KEY="bench-only",
               DEBUG="false", LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "ERROR"), BOT_TOKEN=TOKEN,
               BOT_API_URL=api_url, BOT_WEBHOOK_SECRET=SECRET,
               ALLOWED_HOSTS="127.0.0.1,localhost", TASKS_BACKEND="django_tasks_db.DatabaseBackend")
    return env


def server_command(server: str, workers: int, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "config.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
                "--bind", bind, "--workers", str(workers), "--log-level", "warning", "--backlog", "2048"]
    if server == "granian":
        return [str(Path(sys.executable).with_name("granian")), "--interface", "asginl", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-ws",
                "config.asgi:application"]
    raise ValueError(server)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the update stream --------------------------------------------------------------------------------------------
class Ids:
    next_user = 8_000_000_000
    next_update = 1

    @classmethod
    def updates(cls, count: int) -> list[dict]:
        from tests.support import updates

        batch = []
        for _ in range(count):
            batch.append(dict(updates.message(cls.next_user, "/start"), update_id=cls.next_update))
            cls.next_user += 1
            cls.next_update += 1
        return batch


async def post_all(url: str, batch: list[dict], concurrency: int) -> None:
    import aiohttp

    queue = iter(batch)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client() -> None:
            for update in queue:
                async with session.post(url, data=json.dumps(update), headers=headers) as response:
                    if response.status != 200:
                        raise SystemExit(f"webhook answered {response.status}: {await response.text()}")

        await asyncio.gather(*(client() for _ in range(concurrency)))


def run_webhook(server: str, workers: int, n: int, concurrency: int, database_url: str, api: FakeAPI) -> dict:
    from botworker.webhook import webhook_path_token

    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-webhook-{server}-{workers}-{Ids.next_update}.log", "wb")
    proc = subprocess.Popen(server_command(server, workers, port), cwd=REPO,
                            env=dict(server_env(database_url, api.base_url), **WEB_ENV), stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        url = f"{base}/telegram/webhook/{webhook_path_token(SECRET)}/"
        # Warm every worker process up (imports, dispatcher, bot session): the server spreads connections
        # unevenly, so send enough that each process has handled some; a cold one takes seconds on its first.
        asyncio.run(post_all(url, Ids.updates(50 * workers), concurrency))
        batch = Ids.updates(n)
        before = api.call("count", "sendMessage")
        with Measured(proc) as measured:
            asyncio.run(post_all(url, batch, concurrency))
            result = measured.result(n)
        done = api.call("count", "sendMessage") - before
        if done != n:
            raise SystemExit(f"{server} x{workers}: {done} replies for {n} updates")
        return result
    finally:
        stop(proc)


def run_polling(n: int, database_url: str, api: FakeAPI) -> dict:
    env = server_env(database_url, api.base_url)
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-webhook-polling.log", "wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "runbot", "--polling-timeout", "1"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        warm = 20
        before = api.call("count", "sendMessage")
        api.call("feed", Ids.updates(warm))
        result = api.call("wait", ("sendMessage", before + warm, 60))
        if result is not True:
            raise SystemExit(f"polling warm-up failed: {result}")
        before += warm
        batch = Ids.updates(n)
        with Measured(proc) as measured:
            api.call("feed", batch)
            result = api.call("wait", ("sendMessage", before + n, 120))
            figures = measured.result(n)
        if result is not True:
            raise SystemExit(f"polling failed: {result}")
        return figures
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=400, help="updates per mode and round (default 400)")
    parser.add_argument("--concurrency", type=int, default=40, help="requests in flight (default 40)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", default="1,2,4", help="server process counts (default 1,2,4)")
    parser.add_argument("--servers", default="gunicorn,granian", help="ASGI servers to compare")
    parser.add_argument("--pool", type=int, default=10,
                        help="DATABASE_POOL_MAX for the web servers (default 10, as the Procfile; 0: no pool)")
    args = parser.parse_args()
    WEB_ENV["DATABASE_POOL_MAX"] = str(args.pool)

    database_url = create_database(postgres_url("bench/webhook_throughput"), DB_NAME, drop=True)
    from bench.common import migrate, setup_django

    setup_django(database_url)
    migrate()
    CLOCK.postmaster = postmaster_pid()
    servers = [s for s in args.servers.split(",") if s != "granian" or shutil.which(
        "granian", path=str(Path(sys.executable).parent))]
    counts = [int(w) for w in args.workers.split(",")]
    api = FakeAPI()
    results: dict[str, list[dict]] = {}
    try:
        for round_ in range(args.rounds):
            results.setdefault("polling", []).append(run_polling(args.updates, database_url, api))
            for server in servers:
                for workers in counts:
                    key = f"{server} x{workers}"
                    results.setdefault(key, []).append(
                        run_webhook(server, workers, args.updates, args.concurrency, database_url, api))
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]['per_second']:.0f}/s" for k, v in results.items()),
                  file=sys.stderr)
    finally:
        api.stop()

    baseline = median([r["per_second"] for r in results["polling"]])
    print(f"\nwebhook_throughput: {args.updates} x /start per mode, concurrency {args.concurrency}, "
          f"{args.rounds} round(s), web DATABASE_POOL_MAX={args.pool}; {machine_note()}")
    print(f"{'mode':<16}{'updates/s':>12}{'vs polling':>12}{'CPU ms/update: server':>24}{'PostgreSQL':>12}")
    for key, values in results.items():
        rate = median([v["per_second"] for v in values])
        server, pg = median([v["server_ms"] for v in values]), median([v["pg_ms"] for v in values])
        print(f"{key:<16}{rate:>12.0f}{rate / baseline:>11.2f}x{server:>24.2f}{pg:>12.2f}")


if __name__ == "__main__":
    main()
