"""Fill a benchmark database with N users, their balances and ledger entries, fast (COPY), with a progress bar.

The data are consistent: every balance equals the sum of its user's entries, so ``check_ledger`` passes.
Secondary indexes are dropped during the COPY and rebuilt after it (faster than maintaining them row by row);
foreign-key triggers are off during the load (the generator writes only valid references).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from bench.common import progress

CHUNK = 20_000
TELEGRAM_ID_BASE = 100_000_000
SPAN = timedelta(days=700)  # users join over the ~two years up to now (so "the last 30 days" has data)
NOW = datetime.now(timezone.utc).replace(microsecond=0)
EPOCH = NOW - SPAN

# (type, amount) cycle of a user's entries: a payment, a charge, a bonus, then charges and payments.
ENTRY_PATTERN = [("topup", 250), ("charge", -5), ("bonus", 10), ("charge", -150), ("topup", 100), ("charge", -5)]
DESCRIPTIONS = {"topup": "Telegram Stars payment", "charge": "Image generation", "bonus": "Welcome bonus"}


def user_uuid(i: int) -> str:
    return str(uuid.UUID(int=(1 << 64) | i))


def balance_uuid(i: int) -> str:
    return str(uuid.UUID(int=(2 << 64) | i))


def telegram_id(i: int) -> int:
    return TELEGRAM_ID_BASE + i * 7


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def _joined(i: int, users: int) -> datetime:
    return EPOCH + SPAN * (i / max(users, 1))


def user_rows(users: int, start: int, stop: int):
    for i in range(start, stop):
        joined = _ts(_joined(i, users))
        username = f"user{i}" if i % 10 < 7 else "\\N"
        last_name = f"Last{i % 997}" if i % 3 else "\\N"
        premium = "t" if i % 10 == 0 else "f"
        blocked = "t" if i % 500 == 0 else "f"
        yield (f"{user_uuid(i)}\t{telegram_id(i)}\tUser{i}\t{last_name}\t{username}\tru\t\\N\t{premium}\tf\t{blocked}"
               f"\t{joined}\t{joined}\t\\N\t{joined}\n")


def ledger_rows(users: int, per_user: int, start: int, stop: int):
    """Entries and, per user, the final balance (yielded as ("balance", i, coins))."""
    for i in range(start, stop):
        joined = _joined(i, users)
        uid = user_uuid(i)
        coins = 0
        for k in range(per_user):
            kind, amount = ENTRY_PATTERN[k % len(ENTRY_PATTERN)]
            if coins + amount < 0:
                kind, amount = "bonus", 10
            coins += amount
            key = f"stars:{i}:{k}" if kind == "topup" else "\\N"
            at = _ts(min(joined + timedelta(hours=6 * (k + 1)), NOW))
            yield ("entry", f"{amount}\t{kind}\tcompleted\t{DESCRIPTIONS[kind]}\t{{}}\t{coins}\t{key}\tsystem\t{at}"
                            f"\t\\N\t{uid}\n")
        yield ("balance", i, coins)


def _copy(cursor, sql: str, lines) -> None:
    with cursor.copy(sql) as copy:
        copy.write("".join(lines))


def secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    cursor.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.relname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)""",
        [table],
    )
    return cursor.fetchall()


def load(dsn: str, *, users: int, per_user: int) -> None:
    import psycopg

    tables = ("users", "user_balances", "transactions")
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers while loading
        cursor.execute("TRUNCATE transactions, user_balances, users CASCADE")
        dropped = [index for table in tables for index in secondary_indexes(cursor, table)]
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')

        started = time.monotonic()
        for start in range(0, users, CHUNK):
            stop = min(users, start + CHUNK)
            _copy(cursor, "COPY users (id, telegram_id, first_name, last_name, username, language_code, timezone, "
                          "is_premium, is_bot, is_blocked, created_at, updated_at, bot_blocked_at, last_activity_at) "
                          "FROM STDIN", user_rows(users, start, stop))
            progress("users", stop, users, started)

        started, total = time.monotonic(), users * per_user
        for start in range(0, users, CHUNK // max(per_user, 1)):
            stop = min(users, start + CHUNK // max(per_user, 1))
            entries, balances = [], []
            for row in ledger_rows(users, per_user, start, stop):
                if row[0] == "entry":
                    entries.append(row[1])
                else:
                    _, i, coins = row
                    at = _ts(_joined(i, users))
                    balances.append(f"{balance_uuid(i)}\t{coins}\t{at}\t{at}\t{user_uuid(i)}\n")
            _copy(cursor, "COPY transactions (amount, type, status, description, extra_data, balance_after, "
                          "idempotency_key, created_by, created_at, refund_of_id, user_id) FROM STDIN", entries)
            _copy(cursor, "COPY user_balances (id, coins, created_at, updated_at, user_id) FROM STDIN", balances)
            progress("ledger entries", stop * per_user, total, started)
        conn.commit()

        started = time.monotonic()
        for n, (name, definition) in enumerate(dropped, 1):
            cursor.execute(definition)
            conn.commit()
            progress("rebuilding indexes", n, len(dropped), started)
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.monotonic()
        for n, table in enumerate(tables, 1):
            conn.execute(f"VACUUM ANALYZE {table}")  # what autovacuum would have done on a live database
            progress("vacuum analyze", n, len(tables), started)
