"""One poller per bot: two ``getUpdates`` loops for the same token steal each other's updates.

On PostgreSQL a session-level advisory lock keyed by the bot id guards every host sharing the database; on other
databases an exclusive ``flock`` on a file beside the database (one host) does.

A session lock lives as long as its connection: a PostgreSQL restart ends the session and silently frees the lock.
So the holder calls :meth:`PollerLock.check` every few seconds while polling; it reconnects and re-acquires a lost
lock, and reports ``LOST`` when another process got it first (the caller must then stop polling).
"""

import enum
import fcntl
import hashlib
import logging
import os
import tempfile
from contextlib import contextmanager

from django.db import DatabaseError, connections

from botworker.exceptions import PollerAlreadyRunning

ADVISORY_NAMESPACE = 0x41495348  # "AISH": keeps our lock ids apart from other users of advisory locks

logger = logging.getLogger(__name__)


class LockState(enum.Enum):
    HELD = "held"  # we hold it (possibly re-acquired after a lost connection)
    LOST = "lost"  # another process holds it now: stop polling
    UNKNOWN = "unknown"  # the database cannot be reached; nobody else can take the lock meanwhile, check again soon


class PollerLock:
    """The lock a poller holds; the file lock cannot be lost, so its check always says HELD."""

    def check(self) -> LockState:
        return LockState.HELD


class AdvisoryPollerLock(PollerLock):
    def __init__(self, bot_id: int, alias: str):
        self.key = (ADVISORY_NAMESPACE, bot_id % 2**31)
        self.bot_id = bot_id
        self.alias = alias
        self.connection = None

    def acquire(self) -> bool:
        # A connection of its own, outside Django's per-thread handling (which closes connections after each update).
        self.connection = connections.create_connection(self.alias)
        self.connection.inc_thread_sharing()  # checks may run in a worker thread (asyncio.to_thread)
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", list(self.key))
            (locked,) = cursor.fetchone()
        return locked

    def check(self) -> LockState:
        try:
            if self.connection is not None and self._still_held():
                return LockState.HELD
        except DatabaseError as error:  # the session is gone (server restart, killed backend, network)
            logger.warning("The poller lock's database session of bot %s is gone (%s); reconnecting.",
                           self.bot_id, str(error).strip())
        self.release()
        try:
            locked = self.acquire()
        except DatabaseError as error:
            logger.warning("Cannot reach the database to re-take the poller lock of bot %s: %s",
                           self.bot_id, str(error).strip())
            self.release()
            return LockState.UNKNOWN
        if locked:
            logger.warning("The poller lock of bot %s was lost with its database session and is re-taken.",
                           self.bot_id)
            return LockState.HELD
        self.release()
        return LockState.LOST

    def _still_held(self) -> bool:
        # pg_locks shows a two-key advisory lock as classid = key 1, objid = key 2, objsubid = 2.
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND classid = %s::oid AND objid = %s::oid AND objsubid = 2 AND granted)", list(self.key))
            (held,) = cursor.fetchone()
        return held

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.close()  # ends the session, which releases the lock
        except DatabaseError:
            pass  # a dead session holds nothing
        self.connection = None


@contextmanager
def poller_lock(bot_id: int, *, alias: str = "default"):
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with _advisory_lock(bot_id, alias) as lock:
            yield lock
    else:
        with _file_lock(bot_id, str(connection.settings_dict["NAME"])):
            yield PollerLock()


@contextmanager
def _advisory_lock(bot_id: int, alias: str):
    lock = AdvisoryPollerLock(bot_id, alias)
    try:
        if not lock.acquire():
            raise PollerAlreadyRunning(f"Another runbot already polls bot {bot_id} on this database.")
        yield lock
    finally:
        lock.release()


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
