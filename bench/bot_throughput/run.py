"""Bot throughput: the real dispatcher (all routers and middlewares) polling a fake Bot API in another process,
on SQLite and on PostgreSQL, beside a bare aiogram bot (echo, no database) on the same fake server.

    DATABASE_URL=postgres://postgres@127.0.0.1:54337/aisha .venv/bin/python bench/bot_throughput/run.py

Each bot runs in its own process (``--bot bare|sqlite|postgres``, started by this script), which spawns the fake
server process and drives three phases, each with fresh chats:

- warm-up: a few updates of the mix, not measured;
- burst: N updates queued at once -> updates/s (first hand-out to last reply) and the latency under that backlog;
- paced: updates fed at ``--rate`` per second -> latency p50/p99 of an update meeting an idle-ish bot.

The mix, in turn: ``/start`` from a new user, the balance screen (``menu:balance``), a menu button
(``menu:main`` / ``menu:help``), an unknown callback. Callbacks come from users created beforehand (with a few
ledger entries). Latency = the fake server's clock from handing the update out in ``getUpdates`` to the bot's
``sendMessage`` to that chat (every handler in the mix ends with one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import CpuClock, create_database, machine_note, median, percentile, postgres_url  # noqa: E402
from bench.common import postmaster_pid  # noqa: E402

SELF = Path(__file__).resolve()
SQLITE_FILE = "/tmp/bench-test.sqlite3"
TOKEN = "123456789:TEST-token-for-the-fake-bot-api-server"
KINDS = ("bare", "sqlite", "postgres")


# --- the workload ----------------------------------------------------------------------------------------------
# Issue 18's mix, in turn over every 5 updates: 40% /start of a new user, 20% /start of a known user, 20% the
# top-up packages (``balance_top_up``), 20% an unknown callback.
KIND_NAMES = ("/start (new user)", "/start (known user)", "balance_top_up", "unknown callback")
PATTERN = (0, 0, 1, 2, 3)


def mix(first_id: int, count: int, only: int | None = None) -> tuple[list[dict], list[int]]:
    """``count`` updates from chats ``first_id``...; returns them and the ids of the users that must pre-exist.
    ``only``: every update of that kind of the mix (0-3) instead of the mix."""
    from tests.support import updates as tg

    from botworker.callbacks import BalanceTopUp

    batch, existing = [], []
    for n in range(count):
        chat = first_id + n
        kind = PATTERN[n % len(PATTERN)] if only is None else only
        if kind == 0:
            batch.append(tg.message(chat, "/start"))
            continue
        existing.append(chat)
        if kind == 1:
            batch.append(tg.message(chat, "/start"))
        elif kind == 2:
            batch.append(tg.callback(chat, BalanceTopUp().pack()))
        else:
            batch.append(tg.callback(chat, f"no_such_button:{n}"))
    return batch, existing


def create_users(telegram_ids: list[int]) -> None:
    """The users behind the callbacks, each with a payment and a charge in the ledger."""
    from accounts.services import user_upsert_from_telegram
    from billing.models import TransactionType
    from billing.services import balance_credit, balance_debit

    for telegram_id in telegram_ids:
        # The same profile as the updates carry (tests.support.updates.tg_user), so the bot's upsert has nothing
        # to change, as for a returning user.
        user = user_upsert_from_telegram(telegram_id=telegram_id, first_name="Тест", language_code="ru")
        balance_credit(user=user, amount=Decimal("100"), type=TransactionType.BONUS, created_by="bench")
        balance_debit(user=user, amount=Decimal("5"), created_by="bench")


# --- one bot process --------------------------------------------------------------------------------------------
def bare_bot(api_url: str):
    from aiogram import Bot, Dispatcher
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode
    from aiogram.types import CallbackQuery, Message

    async def echo(event: Message | CallbackQuery) -> None:
        # Callbacks are answered and echoed too, so that the mix makes the same API calls as the real bot.
        if isinstance(event, CallbackQuery):
            await event.answer()
            await event.message.answer(event.data or "?")
        else:
            await event.answer(event.text or "?")

    dp = Dispatcher()
    dp.message.register(echo)
    dp.callback_query.register(echo)
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)), dp


def real_bot(api_url: str):
    from botworker.dispatcher import create_bot, create_dispatcher

    return create_bot(TOKEN, api_url=api_url), create_dispatcher()


class DatabaseCounter:
    """Counts the SQL statements the bot runs and the database connections it opens (noise-free figures)."""

    def __init__(self):
        self.queries = self.connections = 0

    def install(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(self._created, weak=False)

    def _created(self, sender, connection, **kwargs) -> None:
        self.connections += 1
        if self._count not in connection.execute_wrappers:
            connection.execute_wrappers.append(self._count)

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def snapshot(self) -> tuple[int, int]:
        return self.queries, self.connections


def summarize(result: dict) -> dict:
    records = result["records"]
    done = [(handed, replied) for handed, replied in records if handed is not None and replied is not None]
    latencies = [(replied - handed) * 1000 for handed, replied in done]
    span = max(r for _, r in done) - min(h for h, _ in done) if done else float("nan")
    return {
        "updates": len(records), "replied": len(done), "per_second": len(done) / span if span else float("nan"),
        "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")), "api_calls": result["calls"],
    }


async def drive(kind: str, server, phases: list[tuple[str, list[dict], float | None]],
                counter: DatabaseCounter | None, clock: CpuClock) -> dict:
    bot, dp = bare_bot(server.base_url) if kind == "bare" else real_bot(server.base_url)
    allowed = sorted(set(dp.resolve_used_update_types()) | {"message", "callback_query"})
    if kind == "bare":
        polling = asyncio.create_task(
            dp.start_polling(bot, polling_timeout=1, handle_signals=False, allowed_updates=allowed))
        stop_polling = dp.stop_polling
    else:  # the real bot polls as runbot does: botworker.polling (an update confirmed once settled)
        from botworker.polling import UpdatePoller

        poller = UpdatePoller(bot, dp, polling_timeout=1, allowed_updates=allowed)
        polling = asyncio.create_task(poller.run(handle_signals=False))

        async def stop_polling():
            poller.stop()
    results = {}
    try:
        for name, batch, rate in phases:
            calls_before = results[list(results)[-1]]["api_calls_total"] if results else 0
            db_before = counter.snapshot() if counter else (0, 0)
            cpu_before = clock.snapshot()
            outcome = await asyncio.to_thread(server.run, batch, rate=rate)
            bot_cpu, pg_cpu = (after - before for after, before in zip(clock.snapshot(), cpu_before))
            results[name] = summarize(outcome) | {"api_calls_total": outcome["calls"]}
            results[name] |= {"bot_cpu_ms": bot_cpu * 1000 / len(batch), "pg_cpu_ms": pg_cpu * 1000 / len(batch)}
            results[name]["api_calls"] = outcome["calls"] - calls_before
            if counter:
                queries, connections = (after - before for after, before in zip(counter.snapshot(), db_before))
                results[name] |= {"queries_per_update": queries / len(batch),
                                  "connections_per_update": connections / len(batch)}
    finally:
        await stop_polling()
        await asyncio.wait_for(polling, 30)
        await bot.session.close()
    return results


def bot_process(kind: str, burst: int, paced: int, rate: float, conn_max_age: str | None) -> dict:
    from bench.bot_throughput.fake_api import FakeServer
    from bench.common import migrate, setup_django

    warmup = 40
    first = {"warm-up": 10_000_001, "burst": 20_000_001, "paced": 30_000_001}
    server = FakeServer.start()
    try:
        if kind != "bare":
            if kind == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(SQLITE_FILE + suffix).unlink(missing_ok=True)
                dsn = f"sqlite:///{SQLITE_FILE}"
            else:
                dsn = create_database(postgres_url("bench/bot_throughput on PostgreSQL"), "bench_bot", drop=True)
            env = {"BOT_TOKEN": TOKEN, "BOT_API_URL": server.base_url}
            if conn_max_age is not None:
                env["BOT_CONN_MAX_AGE"] = conn_max_age
            setup_django(dsn, **env)
            migrate()
            from django.conf import settings

            from botworker.orm import keep_connections

            # runbot's connection policy
            keep_connections(settings.BOT_CONN_MAX_AGE, health_checks=settings.BOT_CONN_HEALTH_CHECKS)
        phases = []
        for name, count, pace in (("warm-up", warmup, None), ("burst", burst, None), ("paced", paced, rate)):
            batch, existing = mix(first[name], count)
            if kind != "bare":
                create_users(existing)
            phases.append((name, batch, pace))
        if kind != "bare":  # SQL and connections per kind of update (counted, not timed)
            for only, label in enumerate(KIND_NAMES):
                batch, existing = mix(40_000_001 + only * 1000, 8, only)
                create_users(existing)
                phases.append((f"kind: {label}", batch, 20))
        counter, postmaster = None, None
        if kind != "bare":
            from django.db import connections
            if kind == "postgres":
                postmaster = postmaster_pid()

            connections.close_all()  # the bot's ORM thread opens its own
            counter = DatabaseCounter()
            counter.install()
        return asyncio.run(drive(kind, server, phases, counter, CpuClock(postmaster)))
    finally:
        server.stop()


# --- the orchestrator -------------------------------------------------------------------------------------------
def run_bot(kind: str, args, conn_max_age: str | None = None) -> dict:
    command = [sys.executable, str(SELF), "--bot", kind, "--updates", str(args.updates), "--paced", str(args.paced),
               "--rate", str(args.rate)]
    if (conn_max_age := conn_max_age or args.conn_max_age) is not None:
        command += ["--conn-max-age", conn_max_age]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"LOG_LEVEL": "ERROR"})
    if done.returncode:
        sys.stderr.write(done.stderr[-5000:])
        raise SystemExit(f"the {kind} bot failed (exit code {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=1000, help="updates in the burst phase")
    parser.add_argument("--paced", type=int, default=300, help="updates in the paced phase")
    parser.add_argument("--rate", type=float, default=50, help="updates per second in the paced phase")
    parser.add_argument("--bots", default="bare,postgres", help="which bots to run (bare always runs)")
    parser.add_argument("--drop-connections", action="store_true",
                        help="also run the PostgreSQL bot with BOT_CONN_MAX_AGE=0 (a diagnostic row: a connection "
                             "per update, as before issue 18)")
    parser.add_argument("--conn-max-age", help="BOT_CONN_MAX_AGE for the real bot (default: the settings', 600)")
    parser.add_argument("--bot", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.bot:
        print(json.dumps(bot_process(args.bot, args.updates, args.paced, args.rate, args.conn_max_age)))
        return

    wanted = [kind for kind in KINDS[1:] if kind in args.bots.split(",")]
    if "postgres" in wanted:
        postgres_url("bench/bot_throughput on PostgreSQL")
    # The baseline runs before and after the real bots; its median evens out the machine's noise.
    bare = [run_bot("bare", args)]
    real = {kind: run_bot(kind, args) for kind in wanted}
    if args.drop_connections:
        real["postgres, BOT_CONN_MAX_AGE=0"] = run_bot("postgres", args, "0")
    bare.append(run_bot("bare", args))

    print(f"bot throughput: burst of {args.updates} updates, then {args.paced} paced at {args.rate:g}/s; "
          f"{machine_note()}")
    base = median([b["burst"]["per_second"] for b in bare])
    rows = [("bare (baseline)", {"burst": {k: median([b["burst"][k] for b in bare]) for k in bare[0]["burst"]},
                                 "paced": {k: median([b["paced"][k] for b in bare]) for k in bare[0]["paced"]}})]
    rows += [(f"real bot, {kind}", result) for kind, result in real.items()]
    print(f"  {'bot':<40} {'updates/s':>9} {'ratio':>6} {'burst p50':>10} {'burst p99':>10} "
          f"{'paced p50':>10} {'paced p99':>10} {'replied':>9} {'API calls':>9} {'SQL/upd':>7} {'conn/upd':>8} "
          f"{'CPU ms/upd bot+PG burst':>24} {'paced':>12}")
    for label, result in rows:
        burst, paced = result["burst"], result["paced"]
        print(f"  {label:<40} {burst['per_second']:9.0f} {burst['per_second'] / base:6.2f} "
              f"{burst['p50_ms']:8.1f}ms {burst['p99_ms']:8.1f}ms {paced['p50_ms']:8.1f}ms {paced['p99_ms']:8.1f}ms "
              f"{int(burst['replied'] + paced['replied']):>4}/{int(burst['updates'] + paced['updates']):<4} "
              f"{int(burst['api_calls']):>9} {burst.get('queries_per_update', 0):7.1f} "
              f"{burst.get('connections_per_update', 0):8.1f} "
              f"{burst['bot_cpu_ms']:11.2f}+{burst['pg_cpu_ms']:<12.2f} "
              f"{paced['bot_cpu_ms']:5.2f}+{paced['pg_cpu_ms']:<6.2f}")
    for kind, result in real.items():
        counted = ", ".join(f"{name[6:]}: {r['queries_per_update']:.1f} SQL / {r['connections_per_update']:.1f} conn"
                            for name, r in result.items() if name.startswith("kind: "))
        print(f"  per update on {kind}: {counted}")
    if "postgres" in real:
        pg = real["postgres"]
        ratio = pg["burst"]["per_second"] / base
        print(f"  PostgreSQL: throughput {ratio:.2f} x bare (target >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'}); "
              f"paced p99 {pg['paced']['p99_ms']:.1f} ms (target < 50: "
              f"{'met' if pg['paced']['p99_ms'] < 50 else 'MISSED'})")


if __name__ == "__main__":
    main()
