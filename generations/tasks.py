"""Background jobs of training and generation. Each takes ids, calls one service and is idempotent: the
services key every effect on the row's state (status, request id, delivery claim), so a task that runs twice,
or races a webhook, does nothing the second time.

A job is a task chain: a step returns what comes next (``services.Next``: poll again in N seconds) and its task
enqueues it here; a step that follows a commit (submit after the charge, deliver after the completion) arrives
through ``services.job_step_due``, which ``_on_job_step_due`` turns into the matching task. The services never
import this module.

A backend without deferred runs (the ImmediateBackend of tests) only runs the immediate links of a chain;
``sweep_stuck_jobs`` (run it periodically, e.g. listed in ``botworker.periodic.PERIODIC_TASKS`` for
``manage.py enqueue_periodic``) restarts chains that died and deliveries that never happened.
"""

import logging
from datetime import timedelta

from django.dispatch import receiver
from django.utils import timezone
from django_tasks import task

from generations import services
from generations.services import Kind, Next, Step

logger = logging.getLogger(__name__)


@task()
def submit_avatar_training(avatar_id: str) -> None:
    _chain(services.avatar_training_submit(avatar_id=avatar_id))


@task()
def poll_avatar_training(avatar_id: str) -> None:
    _chain(services.avatar_training_poll(avatar_id=avatar_id))


@task()
def notify_avatar_training(avatar_id: str) -> None:
    services.avatar_training_notify(avatar_id=avatar_id)


@task()
def submit_generation(generation_id: str) -> None:
    _chain(services.generation_submit(generation_id=generation_id))


@task()
def poll_generation(generation_id: str) -> None:
    _chain(services.generation_poll(generation_id=generation_id))


@task()
def deliver_generation(generation_id: str) -> None:
    services.generation_deliver(generation_id=generation_id)


@task()
def sweep_stuck_jobs() -> dict:
    return services.jobs_resume_stuck()


STEP_TASKS = {
    (Kind.TRAINING, Step.SUBMIT): submit_avatar_training,
    (Kind.TRAINING, Step.POLL): poll_avatar_training,
    (Kind.TRAINING, Step.FINISH): notify_avatar_training,
    (Kind.GENERATION, Step.SUBMIT): submit_generation,
    (Kind.GENERATION, Step.POLL): poll_generation,
    (Kind.GENERATION, Step.FINISH): deliver_generation,
}


def _chain(next_step: Next | None) -> None:
    """Enqueue the next link now, or after its delay when the backend supports it (else the sweep picks it up)."""
    if next_step is None:
        return
    the_task = STEP_TASKS[next_step.kind, next_step.step]
    if next_step.delay <= 0:
        the_task.enqueue(next_step.job_id)
    elif the_task.get_backend().supports_defer:
        the_task.using(run_after=timezone.now() + timedelta(seconds=next_step.delay)).enqueue(next_step.job_id)
    else:
        logger.debug("backend cannot defer %s; the sweep will pick it up", next_step)


@receiver(services.job_step_due, dispatch_uid="generations.tasks.job_step_due")
def _on_job_step_due(sender, step: Next, **kwargs) -> None:
    _chain(step)
