"""What the benchmarks share: a private PostgreSQL database per benchmark, Django set up on it, small stats.

Benchmarks are scripts, not tests: run them as ``.venv/bin/python bench/<name>/run.py`` from the repository
root. Each creates (or reuses) its own database on the server named by ``DATABASE_URL`` so that it never
touches the test database or the development one.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def postgres_url(required_by: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            f"{required_by} needs PostgreSQL: start one with `PGPORT=54337 bash scripts/postgres start` and set "
            "DATABASE_URL to the URL it prints."
        )
    return url


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def create_database(url: str, name: str, *, drop: bool = False) -> str:
    """Create database ``name`` on the server of ``url`` (dropping it first if asked); returns its URL."""
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def setup_django(database_url: str, *, settings: str = "config.settings", **env: str) -> None:
    """Point Django at ``database_url`` and set it up (production settings, DEBUG off, no query log)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def progress(label: str, done: int, total: int, started: float) -> None:
    """A one-line progress bar on stderr (rewritten in place)."""
    width = 30
    filled = int(width * done / total) if total else width
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 else 0
    sys.stderr.write(f"\r{label:<22} [{'#' * filled}{'.' * (width - filled)}] {done:>10,}/{total:,}"
                     f"  {rate:,.0f}/s  {elapsed:5.1f}s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def machine_note() -> str:
    """The CPUs, the load and the code measured: figures mean little without them."""
    import subprocess

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    code = f"; commit {commit}{' + uncommitted changes' if dirty else ''}" if commit else ""
    return f"{os.cpu_count()} CPU(s), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}{code}"


def process_cpu(pid: int | str) -> float:
    """CPU seconds (user + system) of a live process and of the children it has reaped."""
    fields = CpuClock._stat(pid)
    return sum(int(f) for f in fields[11:15]) / CpuClock.TICK


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live children (e.g. gunicorn and its workers)."""
    total = process_cpu(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                child = CpuClock._stat(entry)
            except OSError:
                continue
            if int(child[1]) == pid:
                total += (int(child[11]) + int(child[12])) / CpuClock.TICK
    return total


class CpuClock:
    """CPU seconds (user + system) of this process (every thread: the event loop and the ORM thread) and of the
    PostgreSQL server: the postmaster, its live children (backends, background workers) and the children it has
    reaped (``cutime``/``cstime``: backends of closed connections). A figure that the machine's noise disturbs less
    than throughput."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, postmaster: int | None):
        self.postmaster = postmaster

    @staticmethod
    def _stat(pid: int | str) -> list[str]:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()  # [0] is field 3 (state); ppid, ..., utime at [11]

    def postgres(self) -> float:
        if self.postmaster is None:
            return 0.0
        fields = self._stat(self.postmaster)
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    child = self._stat(entry)
                except OSError:
                    continue  # gone meanwhile (its time is then in the postmaster's cutime)
                if int(child[1]) == self.postmaster:
                    ticks += int(child[11]) + int(child[12])
        return ticks / self.TICK

    def snapshot(self) -> tuple[float, float]:
        times = os.times()
        return times.user + times.system, self.postgres()


def postmaster_pid() -> int:
    """The PostgreSQL server's postmaster: the parent of this connection's backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return int(CpuClock._stat(backend)[1])
