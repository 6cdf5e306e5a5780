"""The admin at scale: changelists and the stats page at 1,000,000 users (3,000,000 entries) vs 10,000 users.

    DATABASE_URL=postgres://postgres@127.0.0.1:54337/aisha .venv/bin/python bench/admin_scale/run.py

Loads each size into its own database (``bench_admin_<users>``; reused on later runs unless ``--reload``), then,
in a fresh process per database, times each page through Django's test client as a logged-in superuser
(production settings, DEBUG off) and prints the median ms per page and the big/small ratio (target <= 2x).
``--explain`` also prints, per page, its queries with their time and the EXPLAIN ANALYZE of the slowest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import create_database, machine_note, median, postgres_url, with_database  # noqa: E402

SELF = Path(__file__).resolve()
SEARCHED_USER = 4321  # index of the user searched for by Telegram id (exists at every size >= 4322)


def pages() -> list[tuple[str, str]]:
    from django.urls import reverse

    from bench.admin_scale.load import telegram_id

    users = reverse("admin:accounts_user_changelist")
    ledger = reverse("admin:billing_transaction_changelist")
    found = [
        ("users: first page", users),
        ("users: search by telegram id", f"{users}?q={telegram_id(SEARCHED_USER)}"),
        ("users: filter is_premium", f"{users}?is_premium__exact=1"),
        ("users: filter has balance", f"{users}?has_balance=yes"),
        ("ledger: first page", ledger),
        ("ledger: filter type=topup", f"{ledger}?type__exact=topup"),
        ("ledger: search by telegram id", f"{ledger}?q={telegram_id(SEARCHED_USER)}"),
    ]
    for name in ("admin-stats", "admin:stats"):
        try:
            found.append(("stats page", reverse(name)))
            break
        except Exception:
            continue
    return found


def measure(database_url: str, repeat: int, explain: bool) -> dict:
    """Runs in its own process: time every page on one database; returns {page: {ms, queries, status}}."""
    from bench.common import setup_django

    setup_django(database_url, ALLOWED_HOSTS="testserver,127.0.0.1,localhost")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # the test client needs it for response.context and templates
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True, "email": "bench@example.com"})
    client = Client()
    client.force_login(admin)
    results = {}
    for label, url in pages():
        response = client.get(url)  # warm-up: templates, caches, the page's first plan
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        changelist = response.context.get("cl") if response.context else None
        results[label] = {
            "url": url, "status": response.status_code, "ms": median(timings), "queries": len(queries),
            "rows": len(changelist.result_list) if changelist else None,
            "slowest": sorted(({"ms": float(q["time"]) * 1000, "sql": q["sql"]} for q in queries),
                              key=lambda q: -q["ms"])[:3],
        }
        if explain:
            slowest = results[label]["slowest"][0]["sql"] if results[label]["slowest"] else None
            if slowest:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest)
                    results[label]["explain"] = "\n".join(row[0] for row in cursor.fetchall())
    return results


def loaded(dsn: str, users: int, per_user: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT users, per_user FROM bench_admin_meta").fetchone()
    except psycopg.Error:
        return False
    return row == (users, per_user)


def ensure_loaded(server: str, users: int, per_user: int, reload: bool) -> str:
    name = f"bench_admin_{users}"
    dsn = with_database(server, name)
    if not reload and loaded(dsn, users, per_user):
        print(f"{name}: already loaded ({users:,} users, {users * per_user:,} entries)", file=sys.stderr)
        return dsn
    create_database(server, name, drop=True)
    started = time.monotonic()
    subprocess.run([sys.executable, str(SELF), "--load-into", dsn, "--users", str(users),
                    "--entries-per-user", str(per_user)], check=True)
    print(f"{name}: loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return dsn


def load_into(dsn: str, users: int, per_user: int) -> None:
    """Runs in its own process: migrate the database and fill it."""
    import psycopg

    from bench.admin_scale.load import load
    from bench.common import migrate, setup_django

    setup_django(dsn)
    migrate()
    load(dsn, users=users, per_user=per_user)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_admin_meta (users int, per_user int)")
        conn.execute("TRUNCATE bench_admin_meta")
        conn.execute("INSERT INTO bench_admin_meta VALUES (%s, %s)", [users, per_user])


def run_measure(dsn: str, repeat: int, explain: bool) -> dict:
    output = subprocess.run([sys.executable, str(SELF), "--measure", dsn, "--repeat", str(repeat)]
                            + (["--explain"] if explain else []), check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="the big size (default 1,000,000)")
    parser.add_argument("--small", type=int, default=10_000, help="the baseline size (default 10,000)")
    parser.add_argument("--entries-per-user", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (median reported)")
    parser.add_argument("--reload", action="store_true", help="reload the data even if already loaded")
    parser.add_argument("--explain", action="store_true", help="print the queries and EXPLAIN ANALYZE per page")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--load-into", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.load_into:
        return load_into(args.load_into, args.users, args.entries_per_user)
    if args.measure:
        os.environ.setdefault("CONN_MAX_AGE", "0")
        print(json.dumps(measure(args.measure, args.repeat, args.explain)))
        return

    server = postgres_url("bench/admin_scale")
    small = ensure_loaded(server, args.small, args.entries_per_user, args.reload)
    big = ensure_loaded(server, args.users, args.entries_per_user, args.reload)
    if args.load_only:
        return
    # Small, big, small again: the baseline is the median of before and after, to even out machine noise.
    before = run_measure(small, args.repeat, args.explain)
    large = run_measure(big, args.repeat, args.explain)
    after = run_measure(small, args.repeat, args.explain)

    print(f"admin at scale: {args.users:,} users / {args.users * args.entries_per_user:,} entries vs "
          f"{args.small:,} / {args.small * args.entries_per_user:,}; median of {args.repeat} requests; "
          f"{machine_note()}")
    print(f"  {'page':<32} {'small ms':>9} {'big ms':>9} {'ratio':>6}  queries  rows     target <= 2x")
    missed = []
    for label, result in large.items():
        base = median([before[label]["ms"], after[label]["ms"]])
        ratio = result["ms"] / base
        status = "" if result["status"] == 200 else f"  HTTP {result['status']}!"
        verdict = "met" if ratio <= 2 else "MISSED"
        if ratio > 2:
            missed.append(label)
        rows = "" if result["rows"] is None else f"{before[label]['rows']}/{result['rows']}"
        print(f"  {label:<32} {base:9.1f} {result['ms']:9.1f} {ratio:6.2f}  {before[label]['queries']:>3}/"
              f"{result['queries']:<3}  {rows:<8} {verdict}{status}")
    for label in (large if args.explain else missed):
        print(f"\n--- {label} ({large[label]['url']}): slowest queries at {args.users:,} users")
        for query in large[label]["slowest"]:
            print(f"  {query['ms']:8.1f} ms  {query['sql'][:600]}")
        if "explain" in large[label]:
            print(large[label]["explain"])


if __name__ == "__main__":
    main()
