"""Background jobs of training and generation. Each takes ids, calls one service and is idempotent: the
services key every effect on the row's state (status, request id, delivered_at), so a task that runs twice,
or races a webhook, does nothing the second time.

Polling is a task chain: a poll that finds the job still running enqueues the next poll with ``run_after``.
A backend without deferred runs (the ImmediateBackend of tests) only runs the immediate links of a chain;
``sweep_stuck_jobs`` (run it periodically, e.g. listed in ``botworker.periodic.PERIODIC_TASKS`` for
``manage.py enqueue_periodic``) restarts chains that died and deliveries that never happened.
"""

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from generations import services

logger = logging.getLogger(__name__)


def schedule(task_name: str, delay_seconds: float, *args) -> None:
    """Enqueue a task of this module now, or after ``delay_seconds`` when the backend supports it."""
    the_task = globals()[task_name]
    if delay_seconds <= 0:
        the_task.enqueue(*args)
    elif the_task.get_backend().supports_defer:
        the_task.using(run_after=timezone.now() + timedelta(seconds=delay_seconds)).enqueue(*args)
    else:
        logger.debug("backend cannot defer %s%s; the sweep will pick it up", task_name, args)


@task()
def submit_avatar_training(avatar_id: str) -> None:
    services.avatar_training_submit(avatar_id=avatar_id)


@task()
def poll_avatar_training(avatar_id: str) -> None:
    services.avatar_training_poll(avatar_id=avatar_id)


@task()
def notify_avatar_training(avatar_id: str) -> None:
    services.avatar_training_notify(avatar_id=avatar_id)


@task()
def submit_generation(generation_id: str) -> None:
    services.generation_submit(generation_id=generation_id)


@task()
def poll_generation(generation_id: str) -> None:
    services.generation_poll(generation_id=generation_id)


@task()
def deliver_generation(generation_id: str) -> None:
    services.generation_deliver(generation_id=generation_id)


@task()
def sweep_stuck_jobs() -> dict:
    return services.jobs_resume_stuck()
