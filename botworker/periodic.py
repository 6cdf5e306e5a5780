"""Periodic background work: what the scheduler (a systemd timer or cron running ``manage.py enqueue_periodic``)
puts on the task queue. There is no scheduler loop in the project: the timer enqueues, ``db_worker`` runs.

Tasks of this app live here rather than in ``botworker/tasks.py`` (broadcast delivery) to keep the two apart.
"""

from __future__ import annotations

from django_tasks import task

from botworker.task_recovery import task_results_recover_abandoned
from botworker.webhook import processed_updates_prune


@task()
def recover_abandoned_tasks() -> dict[str, list[str]]:
    """Re-queue tasks whose worker died mid-task (see botworker.task_recovery)."""
    return task_results_recover_abandoned()


@task()
def prune_processed_updates() -> int:
    """Forget handled webhook update ids older than the re-delivery window."""
    return processed_updates_prune()


# Import paths of the tasks that `enqueue_periodic` enqueues on each run (each takes no arguments).
PERIODIC_TASKS: list[str] = [
    "botworker.periodic.recover_abandoned_tasks",
    "botworker.periodic.prune_processed_updates",
    "generations.tasks.sweep_stuck_jobs",  # provider jobs whose poll chain was lost
]
