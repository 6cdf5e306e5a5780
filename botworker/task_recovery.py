"""Recovering tasks whose worker died: django-tasks-db marks a task RUNNING when a worker claims it and never looks
at it again, so a worker killed mid-task (SIGKILL, OOM, a lost machine) leaves the row RUNNING forever.

While a ``db_worker`` runs a task it holds a PostgreSQL session advisory lock keyed by the task's id, on a
connection of its own (a task may close Django's connection). The database releases the lock when the worker's
process or machine dies, so the sweep knows exactly which RUNNING rows are orphans: it can take their lock. On
other databases (SQLite: one machine) a task RUNNING longer than ``TASKS_ABANDONED_AFTER`` seconds counts as
abandoned.

A PostgreSQL restart releases every lock too, live workers' included, and nothing re-takes them. So a free lock is
proof of a dead worker only for a task that started after the server did (``pg_postmaster_start_time()``); a task
that was already running at the restart is judged by the age rule as well (lock free AND older than
``TASKS_ABANDONED_AFTER``). The trade-off: after a restart, a task whose worker died around it waits up to
``TASKS_ABANDONED_AFTER`` before it is re-queued, and a task that keeps running across a restart for longer than
that is re-queued while it still runs (a duplicate run of an idempotent task), as on SQLite. Not covered: a lock
session lost without a server restart (its backend terminated, a network cut, a failover to a standby, whose start
time is older): its task counts as orphaned at the next sweep.

An orphan goes back to READY under the same id (so a generation's or broadcast's link to its task stays valid) and
a worker runs it again: tasks are idempotent, their effects keyed in the database. A task that has already lost
``MAX_ATTEMPTS`` workers is marked FAILED instead, so a task that kills its worker cannot loop forever.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.dispatch import receiver
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus, task_finished, task_started
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x7A5C  # the first key of pg_advisory_lock(int, int): "task liveness"
MAX_ATTEMPTS = 3
WORKER_LOST = "botworker.task_recovery.WorkerLost"


class WorkerLost(Exception):
    """The worker running a task disappeared (recorded as the task's failure after MAX_ATTEMPTS)."""


def _lock_key(task_id) -> int:
    """The second advisory-lock key: 31 bits of the task's UUID (int4, signed)."""
    return uuid.UUID(str(task_id)).int & 0x7FFF_FFFF


def _on_postgres(alias: str = "default") -> bool:
    return connections[alias].vendor == "postgresql"


# The sweep tests a lock by taking it for a moment: a worker that claims a task just then retries.
LOCK_ATTEMPTS = 50
LOCK_RETRY_SECONDS = 0.1


def _take_lock(conn, task_id) -> bool:
    key = [LOCK_NAMESPACE, _lock_key(task_id)]
    for _ in range(LOCK_ATTEMPTS):
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if cursor.fetchone()[0]:
                return True
        time.sleep(LOCK_RETRY_SECONDS)
    return False


# --- the worker side: hold a lock while running a task ----------------------------------------------------------
_held = threading.local()


@receiver(task_started, dispatch_uid="botworker.task_recovery.started")
def _hold_liveness_lock(sender, task_result, **kwargs) -> None:
    if getattr(task_result, "db_result", None) is None or not _on_postgres():
        return  # not a database-backend task (tests' immediate backend) or no advisory locks
    try:
        conn = connections.create_connection("default")
        if not _take_lock(conn, task_result.id):
            # Held by someone else all along (another worker on a colliding 31-bit key): run the task anyway;
            # the sweep sees a held lock and leaves the task alone, as long as that other holder lives.
            logger.error("the liveness lock of task %s is held by another session", task_result.id)
            conn.close()
            return
        _held.conn = conn
    except Exception:  # never fail a task for the sake of its liveness lock; the age rule still applies
        logger.exception("could not take the liveness lock of task %s", task_result.id)


@receiver(task_finished, dispatch_uid="botworker.task_recovery.finished")
def _release_liveness_lock(sender, task_result, **kwargs) -> None:
    conn = getattr(_held, "conn", None)
    if conn is not None:
        _held.conn = None
        try:
            with conn.cursor() as cursor:  # explicit: with DATABASE_POOL_MAX the session outlives close()
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, _lock_key(task_result.id)])
        except Exception:
            logger.warning("could not release the liveness lock of task %s", task_result.id, exc_info=True)
        conn.close()


# --- the sweep --------------------------------------------------------------------------------------------------
def _too_old(row: DBTaskResult) -> bool:
    return row.started_at < timezone.now() - timedelta(seconds=settings.TASKS_ABANDONED_AFTER)


def _worker_gone(row: DBTaskResult, server_started_at) -> bool:
    """True when nobody holds the row's liveness lock and (if the task was running before the PostgreSQL server
    last started, so the restart released its lock) it ran past TASKS_ABANDONED_AFTER; on other databases, the
    age rule alone."""
    if not _on_postgres():
        return _too_old(row)
    if row.started_at < server_started_at and not _too_old(row):
        return False  # its lock went with the restart: a free lock proves nothing
    key = [LOCK_NAMESPACE, _lock_key(row.id)]
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        free = cursor.fetchone()[0]
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    return free


def _server_started_at():
    if not _on_postgres():
        return None
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def task_results_recover_abandoned(*, grace: timedelta | None = None) -> dict[str, list[str]]:
    """Re-queue RUNNING tasks whose worker is gone (FAILED after MAX_ATTEMPTS lost workers).

    Returns ``{"requeued": [ids], "failed": [ids]}``. Safe to run from several processes at once: each change is a
    conditional update of a row that is still RUNNING with the same attempts.
    """
    # Between a worker's claim (RUNNING) and its liveness lock there is a short gap: never judge a younger row.
    grace = timedelta(seconds=settings.TASKS_ABANDONED_GRACE) if grace is None else grace
    outcome: dict[str, list[str]] = {"requeued": [], "failed": []}
    candidates = DBTaskResult.objects.running().filter(started_at__lt=timezone.now() - grace).order_by()
    server_started_at = _server_started_at()
    for row in candidates:
        if not _worker_gone(row, server_started_at):
            continue
        still_running = DBTaskResult.objects.filter(id=row.id, status=TaskResultStatus.RUNNING,
                                                    started_at=row.started_at)
        if len(row.worker_ids) >= MAX_ATTEMPTS:
            changed = still_running.update(
                status=TaskResultStatus.FAILED, finished_at=timezone.now(), exception_class_path=WORKER_LOST,
                traceback=f"{WORKER_LOST}: {len(row.worker_ids)} workers died running this task "
                          f"(workers {', '.join(row.worker_ids)}); not retried again.\n")
            if changed:
                outcome["failed"].append(str(row.id))
                logger.error("task %s (%s) lost %s workers: marked failed", row.id, row.task_path,
                             len(row.worker_ids))
        elif still_running.update(status=TaskResultStatus.READY, started_at=None):
            outcome["requeued"].append(str(row.id))
            logger.warning("task %s (%s) was abandoned by worker %s: queued again", row.id, row.task_path,
                           row.worker_ids[-1] if row.worker_ids else "?")
    return outcome
