"""Periodic background work: what the scheduler (a systemd timer or cron running ``manage.py enqueue_periodic``)
puts on the task queue. There is no scheduler loop in the project: the timer enqueues, ``db_worker`` runs.

Tasks of this app live here rather than in ``botworker/tasks.py`` (an operator's re-run of a failed update) to keep
the two apart.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import timedelta

from django_tasks import task

from botworker.task_recovery import task_results_recover_abandoned
from botworker.webhook import processed_updates_prune

logger = logging.getLogger(__name__)


@task()
def recover_abandoned_tasks() -> dict[str, list[str]]:
    """Re-queue tasks whose worker died mid-task (see botworker.task_recovery)."""
    return task_results_recover_abandoned()


@task()
def prune_processed_updates() -> int:
    """Forget handled webhook update ids older than the re-delivery window."""
    return processed_updates_prune()


@task()
def reconcile_stars_payments() -> dict:
    """Compare Telegram's Stars payments with the ledger and repair what is safe (payments' stars_reconcile:
    credit a missing payment once, reverse a refunded one, flag unknown credits); the counts are the result."""
    from payments.services.reconcile import stars_reconcile

    report = stars_reconcile(fix=True, created_by="periodic")
    summary = {f.name: len(v) if isinstance(v, list) else v
               for f in fields(report) if (v := getattr(report, f.name)) is not None}
    if not report.clean:
        logger.warning("Stars reconciliation found differences: %s; problems: %s", summary, report.problems)
    return summary


# What `enqueue_periodic` enqueues: (task import path, minimum interval). Each run of the command enqueues a task
# unless one was enqueued within its interval (or still waits in the queue); each takes no arguments.
PERIODIC_TASKS: list[tuple[str, timedelta]] = [
    ("botworker.periodic.recover_abandoned_tasks", timedelta(0)),
    ("generations.tasks.sweep_stuck_jobs", timedelta(0)),  # provider jobs whose poll chain was lost
    ("broadcasts.tasks.broadcasts_resume_running", timedelta(0)),  # broadcasts whose delivery chain was lost
    ("common.task_queue.task_queue_check_backlog", timedelta(0)),  # alerts the operators when tasks wait too long
    ("botworker.periodic.prune_processed_updates", timedelta(hours=1)),
    ("botworker.periodic.reconcile_stars_payments", timedelta(hours=1)),
]
