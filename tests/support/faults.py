"""Real database failures for tests: a trigger that makes writes to a table fail, installed and removed over a
connection of the test's own (usable from async tests and while the bot's threads run).

    with failing_writes("transactions", times=1) as fault:            # PostgreSQL: the first insert fails
        ...
    with failing_writes("transactions", terminate=True, times=1):     # ... by its backend being terminated
        ...
    with failing_writes("bot_failed_updates") as fault:               # every insert fails until fault.stop()
        ...
        fault.stop()

On PostgreSQL the failure is what a lost database raises (SQLSTATE 08006, connection_failure: Django's
OperationalError), or, with ``terminate``, the writing backend is terminated (``pg_terminate_backend``) so its
connection really dies mid-transaction. ``times`` counts with a sequence, which a rollback does not undo;
``fault.hits()`` says how many writes it failed. On SQLite the trigger aborts the write (Django's IntegrityError)
for as long as it is installed (no counting: SQLite has nothing that survives the rollback).

``database_unavailable()`` takes the whole test database away for a while (PostgreSQL).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager

import psycopg
import psycopg.sql
from django.db import connection

_names = iter(range(1, 10**6))


def _connect():
    """A connection of its own, closed after use (autocommit)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return closing(psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                                       password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True))
    return closing(sqlite3.connect(db["NAME"], timeout=20, isolation_level=None))


class Fault:
    def __init__(self, table: str, *, event: str, times: int | None, terminate: bool, message: str):
        self.table, self.event, self.times, self.terminate = table, event, times, terminate
        self.message = f"test fault on {table} {message}".strip().replace("'", "''")
        self.name = f"test_fault_{next(_names)}"
        self.postgres = connection.vendor == "postgresql"
        if not self.postgres and (times is not None or terminate):
            raise ValueError("SQLite faults fail every write until stopped")
        self.active = False

    def start(self) -> Fault:
        with _connect() as conn:
            if self.postgres:
                row = "OLD" if self.event == "DELETE" else "NEW"
                limit = self.times if self.times is not None else 2**62
                failure = ("PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(10);" if self.terminate
                           else "")
                conn.execute(f"CREATE SEQUENCE {self.name}_hits")
                conn.execute(f"""
                    CREATE FUNCTION {self.name}() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                      IF nextval('{self.name}_hits') <= {limit} THEN
                        {failure}
                        RAISE EXCEPTION '{self.message}' USING ERRCODE = 'connection_failure';
                      END IF;
                      RETURN {row};
                    END $$""")
                conn.execute(f"CREATE TRIGGER {self.name} BEFORE {self.event} ON {self.table} "
                             f"FOR EACH ROW EXECUTE FUNCTION {self.name}()")
            else:
                conn.execute(f"CREATE TRIGGER {self.name} BEFORE {self.event} ON {self.table} "
                             f"BEGIN SELECT RAISE(ABORT, '{self.message}'); END")
        self.active = True
        return self

    def hits(self) -> int:
        """How many writes were failed so far (PostgreSQL)."""
        with _connect() as conn:
            last, called = conn.execute(f"SELECT last_value, is_called FROM {self.name}_hits").fetchone()
        return min(last if called else 0, self.times if self.times is not None else last)

    def stop(self) -> None:
        if not self.active:
            return
        with _connect() as conn:
            if self.postgres:
                conn.execute(f"DROP TRIGGER {self.name} ON {self.table}")
                conn.execute(f"DROP FUNCTION {self.name}()")
                conn.execute(f"DROP SEQUENCE {self.name}_hits")
            else:
                conn.execute(f"DROP TRIGGER {self.name}")
        self.active = False


@contextmanager
def failing_writes(table: str, *, event: str = "INSERT", times: int | None = None, terminate: bool = False,
                   message: str = ""):
    """See the module's docstring; ``message`` is added to the error's text."""
    fault = Fault(table, event=event, times=times, terminate=terminate, message=message).start()
    try:
        yield fault
    finally:
        fault.stop()


@contextmanager
def database_unavailable():
    """PostgreSQL: the test database refuses every connection and its sessions are ended (as in an outage of the
    server, without stopping the server that the other tests share), until the block ends."""
    name = connection.settings_dict["NAME"]
    db = connection.settings_dict
    admin = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                            password=db["PASSWORD"] or None, dbname="postgres", autocommit=True)
    with closing(admin):
        quoted = psycopg.sql.Identifier(name)
        admin.execute(psycopg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(quoted))
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            yield
        finally:
            admin.execute(psycopg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(quoted))
