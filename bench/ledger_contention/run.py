"""Ledger under contention: concurrent credits and debits through billing.services vs raw UPDATE ... RETURNING.

    DATABASE_URL=postgres://postgres@127.0.0.1:54337/aisha .venv/bin/python bench/ledger_contention/run.py

Each worker is a separate process with its own database connection. Every round runs the same operations
(seeded, so identical in each mode) in three modes, in rotating order:

- ``raw``: ``UPDATE user_balances SET coins = coins + %s WHERE user_id = %s AND coins + %s >= 0 RETURNING coins``,
  autocommit (one statement, one transaction) -- the baseline. It runs on its own users, deleted at the end
  because their balances have no ledger behind them.
- ``raw+ledger``: the same UPDATE plus the INSERT of the ledger entry in one transaction, by hand (informative:
  the cost of keeping a ledger at all, without Django).
- ``ledger-cte`` (informative): the UPDATE and the INSERT as ONE statement
  (``WITH b AS (UPDATE ... RETURNING) INSERT ... SELECT FROM b``), autocommit: the fastest a ledger can be kept.
- ``services``: ``balance_credit`` / ``balance_debit``.

Prints ops/s per mode and round, the median ratio services/raw (target >= 0.5), then runs ``check_ledger``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import create_database, machine_note, median, migrate, postgres_url, setup_django  # noqa: E402

MODES = ("raw", "raw+ledger", "ledger-cte", "services")
OPENING = Decimal("500")
RAW_TELEGRAM_IDS = 9_100_000_000  # the raw baseline's users; deleted before check_ledger
SERVICE_TELEGRAM_IDS = 9_000_000_000

RAW_UPDATE = (
    "UPDATE user_balances SET coins = coins + %s, updated_at = now() "
    "WHERE user_id = %s AND coins + %s >= 0 RETURNING coins"
)
LEDGER_CTE = (
    "WITH b AS (UPDATE user_balances SET coins = coins + %(amount)s, updated_at = now() "
    "WHERE user_id = %(user)s AND coins + %(amount)s >= 0 RETURNING user_id, coins) "
    "INSERT INTO transactions (user_id, amount, type, status, description, extra_data, balance_after, "
    "idempotency_key, refund_of_id, created_by, created_at) "
    "SELECT user_id, %(amount)s, %(kind)s, 'completed', 'bench', '{}'::jsonb, coins, NULL, NULL, 'bench', now() "
    "FROM b RETURNING balance_after"
)
RAW_INSERT = (
    "INSERT INTO transactions (user_id, amount, type, status, description, extra_data, balance_after, "
    "idempotency_key, refund_of_id, created_by, created_at) "
    "VALUES (%s, %s, %s, 'completed', 'bench', '{}'::jsonb, %s, NULL, NULL, 'bench', now())"
)


def plan(seed: int, ops: int, users: int) -> list[tuple[int, Decimal]]:
    """A worker's operations: (user index, signed amount); about half debits, some of which will be refused."""
    rng = random.Random(seed)
    return [(rng.randrange(users), Decimal(rng.randint(1, 30)) * (1 if rng.random() < 0.5 else -1))
            for _ in range(ops)]


def backend_cpu(pid: int) -> float:
    """CPU seconds used so far by the PostgreSQL backend ``pid`` (NaN if the server is not on this machine)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def worker(mode: str, user_ids: list[str], ops: list[tuple[int, Decimal]], dsn: str, keyed: bool, tag: str,
           barrier, results, profile: bool = False) -> None:
    if profile:  # cProfile of this worker's CPU time, printed when it ends (--profile: worker 0 of services)
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        try:
            return worker(mode, user_ids, ops, dsn, keyed, tag, barrier, results)
        finally:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    from django.db import connection

    if mode == "services":
        from billing.exceptions import InsufficientFunds
        from billing.models import TransactionType
        from billing.services import balance_credit, balance_debit

        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        barrier.wait()
        cpu = (time.process_time(), backend_cpu(backend))
        refused = 0
        for n, (index, amount) in enumerate(ops):
            user = user_ids[index]
            if amount > 0:
                key = f"bench-{tag}-{n}" if keyed else None
                balance_credit(user=user, amount=amount, type=TransactionType.BONUS, description="bench",
                               idempotency_key=key, created_by="bench")
            else:
                try:
                    balance_debit(user=user, amount=-amount, description="bench", created_by="bench")
                except InsufficientFunds:
                    refused += 1
        results.put((time.monotonic(), refused, time.process_time() - cpu[0], backend_cpu(backend) - cpu[1]))
        connection.close()
        return

    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        backend = conn.info.backend_pid
        barrier.wait()
        cpu = (time.process_time(), backend_cpu(backend))
        refused = 0
        for index, amount in ops:
            user = user_ids[index]
            if mode == "raw":
                row = conn.execute(RAW_UPDATE, [amount, user, amount]).fetchone()
            elif mode == "ledger-cte":
                kind = "bonus" if amount > 0 else "charge"
                row = conn.execute(LEDGER_CTE, {"amount": amount, "user": user, "kind": kind}).fetchone()
            else:
                with conn.transaction():
                    row = conn.execute(RAW_UPDATE, [amount, user, amount]).fetchone()
                    if row is not None:
                        kind = "bonus" if amount > 0 else "charge"
                        conn.execute(RAW_INSERT, [user, amount, kind, row[0]])
            refused += row is None
        results.put((time.monotonic(), refused, time.process_time() - cpu[0], backend_cpu(backend) - cpu[1]))


def run_mode(mode: str, user_ids: list[str], plans: list, dsn: str, keyed: bool, tag: str,
             profile: bool = False) -> tuple[float, int, float, float]:
    """Run every worker's plan at once; returns (ops/s, refused debits, CPU microseconds per operation of the
    workers and of their PostgreSQL backends)."""
    from django.db import connections

    connections.close_all()  # children must not share the parent's socket
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(plans) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(mode, user_ids, ops, dsn, keyed, f"{tag}-{i}", barrier, results,
                                              profile and i == 0 and mode == "services"))
             for i, ops in enumerate(plans)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.monotonic()
    ends = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a {mode} worker failed (exit code {p.exitcode})")
    elapsed = max(end[0] for end in ends) - started
    total = sum(len(ops) for ops in plans)
    return (total / elapsed, sum(end[1] for end in ends), sum(end[2] for end in ends) / total * 1e6,
            sum(end[3] for end in ends) / total * 1e6)


def make_users(count: int) -> tuple[list[str], list[str]]:
    """The services' users (opening balance through the ledger) and the raw baseline's (balance row only)."""
    from accounts.services import user_upsert_from_telegram
    from billing.models import TransactionType
    from billing.services import balance_credit
    from django.db import connection

    service, raw = [], []
    for i in range(count):
        user = user_upsert_from_telegram(telegram_id=SERVICE_TELEGRAM_IDS + i, first_name=f"bench {i}")
        balance_credit(user=user, amount=OPENING, type=TransactionType.OPENING_BALANCE, created_by="bench")
        service.append(str(user.pk))
        user = user_upsert_from_telegram(telegram_id=RAW_TELEGRAM_IDS + i, first_name=f"raw {i}")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO user_balances (id, user_id, coins, created_at, updated_at) "
                "VALUES (gen_random_uuid(), %s, %s, now(), now())", [user.pk, OPENING])
        raw.append(str(user.pk))
    return service, raw


def check_ledger() -> int:
    """Delete the raw baseline's users, then run ``check_ledger``; returns the number of mismatching users."""
    from accounts.models import User
    from billing.selectors import ledger_mismatches
    from django.core.management import CommandError, call_command

    User.objects.filter(telegram_id__gte=RAW_TELEGRAM_IDS).delete()
    try:
        call_command("check_ledger")
    except CommandError as error:
        print(f"check_ledger: {error}")
    return ledger_mismatches().count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--users", type=int, default=8, help="how many users the workers fight over")
    parser.add_argument("--ops", type=int, default=400, help="operations per worker per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keyed", action="store_true", help="give every service credit an idempotency key")
    parser.add_argument("--profile", action="store_true", help="cProfile one services worker (to stderr)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES))
    parser.add_argument("--database", default="bench_ledger", help="database created (afresh) for this run")
    args = parser.parse_args()

    dsn = create_database(postgres_url("bench/ledger_contention"), args.database, drop=True)
    setup_django(dsn)
    migrate()
    service_users, raw_users = make_users(args.users)

    print(f"ledger contention: {args.workers} workers (processes), {args.users} users, {args.ops} ops per worker "
          f"per round, {args.rounds} rounds, keyed credits: {args.keyed}; {machine_note()}")
    modes = [m for m in MODES if m in args.modes.split(",")]
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    ratios: dict[str, list[float]] = {"raw": [], "raw+ledger": [], "ledger-cte": []}
    for rnd in range(args.rounds):
        plans = [plan(rnd * 1000 + w, args.ops, args.users) for w in range(args.workers)]
        order = modes[rnd % len(modes):] + modes[:rnd % len(modes)]  # rotate: no mode always runs first
        measured = {}
        for mode in order:
            users = raw_users if mode == "raw" else service_users
            rate, refused, python_us, postgres_us = run_mode(mode, users, plans, dsn, args.keyed, f"r{rnd}",
                                                             args.profile)
            measured[mode] = rate
            rates[mode].append(rate)
            cpu[mode].append((python_us, postgres_us))
            print(f"  round {rnd + 1} {mode:<11} {rate:8.0f} ops/s  ({refused} debits refused)  CPU per op: "
                  f"workers {python_us:4.0f} us + PostgreSQL {postgres_us:4.0f} us")
        for base in ratios:
            if "services" in measured and base in measured:
                ratios[base].append(measured["services"] / measured[base])

    print("\nmedian over rounds:")
    for mode in modes:
        python_us, postgres_us = (median([c[i] for c in cpu[mode]]) for i in (0, 1))
        print(f"  {mode:<11} {median(rates[mode]):8.0f} ops/s   CPU per op: workers {python_us:4.0f} us + "
              f"PostgreSQL {postgres_us:4.0f} us = {python_us + postgres_us:4.0f} us")
    if ratios["raw"]:
        ratio = median(ratios["raw"])
        print(f"  services / raw           = {ratio:.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'})")
    for base in ("raw+ledger", "ledger-cte"):
        if ratios[base]:
            print(f"  services / {base:<10}    = {median(ratios[base]):.2f}  (informative)")
    if rates.get("ledger-cte") and rates.get("raw"):
        cte = median([c / r for c, r in zip(rates["ledger-cte"], rates["raw"])])
        print(f"  ledger-cte / raw         = {cte:.2f}  (the ceiling for any ledger that writes an entry per change)")
    broken = check_ledger()
    print(f"  check_ledger: {broken} user(s) whose balance does not match the ledger "
          f"({'OK' if broken == 0 else 'BROKEN'})")
    if broken:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
