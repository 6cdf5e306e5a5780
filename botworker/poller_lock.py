"""One poller per bot: two ``getUpdates`` loops for the same token steal each other's updates.

On PostgreSQL a session-level advisory lock keyed by the bot id guards every host sharing the database; on other
databases an exclusive ``flock`` on a file beside the database (one host) does.
"""

import fcntl
import hashlib
import os
import tempfile
from contextlib import contextmanager

from django.db import connections

ADVISORY_NAMESPACE = 0x41495348  # "AISH": keeps our lock ids apart from other users of advisory locks


class PollerAlreadyRunning(Exception):
    pass


@contextmanager
def poller_lock(bot_id: int, *, alias: str = "default"):
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with _advisory_lock(bot_id, alias):
            yield
    else:
        with _file_lock(bot_id, str(connection.settings_dict["NAME"])):
            yield


@contextmanager
def _advisory_lock(bot_id: int, alias: str):
    # A connection of its own, outside Django's per-thread handling (which closes connections after each update).
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, bot_id % 2**31])
            (locked,) = cursor.fetchone()
        if not locked:
            raise PollerAlreadyRunning(f"Another runbot already polls bot {bot_id} on this database.")
        yield
    finally:
        connection.close()  # ends the session, which releases the lock


@contextmanager
def _file_lock(bot_id: int, database: str):
    digest = hashlib.sha1(database.encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"aisha-runbot-{bot_id}-{digest}.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PollerAlreadyRunning(f"Another runbot already polls bot {bot_id} (lock file {path}).") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
