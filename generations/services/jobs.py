"""The provider job state machine, written once for every job kind: submit, poll, complete, fail-and-refund-once.

A job is a row (an avatar's training, an image generation) that a ``JobSpec`` describes: its model and fields,
how to build the provider's input, how to complete it from the output and how to refund it. Each step is a
conditional UPDATE keyed by the row's status and request id, so a poller and a webhook racing each other (or a
restarted worker) complete or fail a job once, and a failure refunds once.

What comes next: a step returns a ``Next`` (poll again in N seconds) and the task that ran it enqueues it; a step
that must follow a commit (submit after the charge, tell the user after the completion) is queued with
``job_queue``, which sends ``job_step_due`` on commit. ``generations.tasks`` receives it and enqueues its task, so
these services never import the tasks (the tasks import them).

FAL failures (fal-protocol.md): FAL has no FAILED state; a COMPLETED status carrying ``error``, or an error answer
that FAL does not mark retryable, fails the job at once with its reason class. Only transport errors and explicit
retryable answers are retried, ``FAL_MAX_TRANSIENT_FAILURES`` times in a row at most.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Callable

from django.conf import settings
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from billing.exceptions import ChargeMismatch
from common.alerts import operator_alert
from generations import fal
from generations.exceptions import ProviderError
from generations.models import FailureReason
from generations.services.webhook_urls import webhook_url

logger = logging.getLogger(__name__)

# Sent on commit with ``step=Next(...)``; ``generations.tasks`` enqueues the matching task.
job_step_due = Signal()

# Failure classes that mean our provider account or FAL itself is in trouble, not this one request.
OUTAGE_CLASSES = (FailureReason.PROVIDER_ACCOUNT, FailureReason.PROVIDER_ERROR)


class Kind(StrEnum):
    TRAINING = "training"
    GENERATION = "generation"


class Step(StrEnum):
    SUBMIT = "submit"
    POLL = "poll"
    FINISH = "finish"  # tell the user: the training notice, or the generation's album or failure notice


@dataclass(frozen=True)
class Next:
    kind: Kind
    step: Step
    job_id: str
    delay: float = 0


@dataclass(frozen=True)
class Completion:
    """The fields of a completed job, and what to undo (stored copies) when another completer won the race."""

    fields: dict
    discard: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class JobSpec:
    """One kind of provider job: where its state lives and what is particular to it."""

    kind: Kind
    model: type[models.Model]
    request_field: str
    endpoint_field: str
    deadline_field: str
    error_field: str
    error_max: int
    in_flight: tuple[str, ...]  # statuses of a job not yet finished
    submitted_status: str
    failed_status: str
    ours: models.Q  # rows this project charged or started: never a legacy row
    default_endpoint: str
    arguments: Callable  # (row, provider) -> the model input
    complete: Callable  # (row, output, provider) -> Completion, or raises JobFailed
    refund: Callable  # (row, created_by) -> the refund entry or None
    submitted_fields: Callable = lambda row, arguments: {}
    failed_fields: Callable = lambda: {}
    on_complete: Callable = lambda row: None  # inside the completing transaction
    submit_check: Callable = lambda row: None  # (row) -> JobFailed | None, before submitting
    first_poll: Callable[[], float] = lambda: settings.FAL_POLL_INTERVAL
    poll_interval: Callable[[], float] = lambda: settings.FAL_POLL_INTERVAL
    progress: Callable = lambda row, status: {}  # fields to update while it runs
    select_related: tuple[str, ...] = field(default=())


class JobFailed(Exception):
    """A job that cannot complete: ``reason`` (kept for the admin) and its class (for the user and the admin)."""

    def __init__(self, reason: str, failure_reason: str = FailureReason.PROVIDER_ERROR):
        self.reason, self.failure_reason = reason, failure_reason
        super().__init__(reason)


def job_queue(next_step: Next) -> None:
    """Have the tasks run ``next_step`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(job_step_due.send, sender=Next, step=next_step))


def provider_outage_report(*, kind: str, job_id, failure_reason: str, detail: str) -> None:
    """Called when a provider or key problem fails a job: our FAL account or FAL itself needs an operator. A
    warning in the log and an operator alert, one per problem class within the alerts' window (no secrets:
    ``detail`` is the redacted error text)."""
    logger.warning("FAL provider problem (%s) failed %s %s: %s", failure_reason, kind, job_id, detail[:300])
    operator_alert(key=f"fal-outage:{failure_reason}", text=gettext(
        "⚠️ FAL: задания проваливаются по вине провайдера или ключа (%(reason)s), монеты возвращены. "
        "Последнее: %(kind)s %(job)s — %(detail)s") % {
        "reason": FailureReason(failure_reason).label, "kind": kind, "job": job_id, "detail": detail[:200]})


def failure_class(*, status: int | None = None, error_type: str | None = None) -> str:
    """The reason class of a FAL error: its HTTP status and ``error_type`` (body or ``X-Fal-Error-Type``)."""
    kind = (error_type or "").lower()
    if status in (401, 403):
        return FailureReason.PROVIDER_ACCOUNT
    if "content_policy" in kind:
        return FailureReason.CONTENT_POLICY
    if status == 422 or kind in ("file_download_error", "image_too_small", "image_load_error", "validation_error"):
        return FailureReason.BAD_INPUT
    return FailureReason.PROVIDER_ERROR


def _expired(deadline) -> bool:
    """Jobs this project starts always get a deadline; one without it (a legacy row) counts as expired."""
    return deadline is None or timezone.now() >= deadline


def _awaiting_submit(spec: JobSpec, job_id):
    return spec.model.objects.filter(spec.ours, pk=job_id, status__in=spec.in_flight,
                                     **{f"{spec.request_field}__isnull": True})


def job_submit(spec: JobSpec, *, job_id) -> Next | None:
    """Submit a job that awaits submission (charged by this project); a no-op (None) for any other row."""
    job = _awaiting_submit(spec, job_id).select_related(*spec.select_related).first()
    if job is None:
        return None
    if (refused := spec.submit_check(job)) is not None:
        job_fail(spec, job_id=job.pk, reason=refused.reason, failure_reason=refused.failure_reason)
        return None
    try:
        provider = fal.provider_get()
        arguments = spec.arguments(job, provider)
        submitted = provider.submit(getattr(job, spec.endpoint_field) or spec.default_endpoint, arguments,
                                    webhook_url=webhook_url())
    except ProviderError as exc:
        if exc.retryable and not _expired(getattr(job, spec.deadline_field)) and _transient_allowed(spec, job):
            return Next(spec.kind, Step.SUBMIT, str(job.pk), settings.FAL_POLL_INTERVAL)
        job_fail_provider(spec, job_id=job.pk, error=exc)
        return None
    except JobFailed as exc:
        job_fail(spec, job_id=job.pk, reason=exc.reason, failure_reason=exc.failure_reason)
        return None
    except Exception as exc:  # e.g. ProviderUnavailable, a missing photo file: the user gets the money back
        logger.exception("%s %s: submit failed", spec.kind, job.pk)
        job_fail(spec, job_id=job.pk, reason=str(exc), failure_reason=FailureReason.INTERNAL)
        return None
    updated = _awaiting_submit(spec, job.pk).update(
        **{spec.request_field: submitted.request_id}, status=spec.submitted_status, provider_failures=0,
        last_status_check=timezone.now(), **spec.submitted_fields(job, arguments))
    if not updated:
        return None
    return Next(spec.kind, Step.POLL, str(job.pk), 0 if provider.is_dev else spec.first_poll())


def job_poll(spec: JobSpec, *, job_id) -> Next | None:
    """One status check; returns the next poll while the job runs, None once it finished (or is not ours)."""
    job = spec.model.objects.filter(pk=job_id, status__in=spec.in_flight).first()
    if job is None:
        return None
    request_id = getattr(job, spec.request_field)
    if not request_id:
        return job_submit(spec, job_id=job.pk)
    provider = fal.provider_get()
    endpoint = getattr(job, spec.endpoint_field) or spec.default_endpoint  # legacy rows have none
    try:
        status = provider.status(endpoint, request_id)
        if status.failed:
            job_fail(spec, job_id=job.pk, request_id=request_id, reason=f"FAL: {status.error}",
                     failure_reason=failure_class(error_type=status.error_type))
            return None
        if status.done:
            job_complete(spec, job_id=job.pk, request_id=request_id, output=provider.result(endpoint, request_id))
            return None
    except ProviderError as exc:
        if not exc.retryable:
            job_fail_provider(spec, job_id=job.pk, error=exc, request_id=request_id)
            return None
        if not _transient_allowed(spec, job):
            job_fail_provider(spec, job_id=job.pk, error=exc, request_id=request_id)
            return None
        status = None
    if _expired(getattr(job, spec.deadline_field)):
        _cancel_quietly(provider, endpoint, request_id)
        job_fail(spec, job_id=job.pk, reason="timeout", failure_reason=FailureReason.TIMEOUT)
        return None
    running = {"provider_failures": 0, **spec.progress(job, status)} if status is not None else {}
    spec.model.objects.filter(pk=job.pk, status__in=spec.in_flight).update(last_status_check=timezone.now(),
                                                                          **running)
    return Next(spec.kind, Step.POLL, str(job.pk), spec.poll_interval())


def _transient_allowed(spec: JobSpec, job) -> bool:
    """Count one more transient failure of the job; False once there were more than allowed in a row."""
    spec.model.objects.filter(pk=job.pk).update(provider_failures=models.F("provider_failures") + 1)
    return job.provider_failures + 1 <= settings.FAL_MAX_TRANSIENT_FAILURES


def _cancel_quietly(provider, endpoint: str, request_id: str) -> None:
    """Past the deadline the job is failed and refunded anyway; a cancel that does not get through only
    leaves the provider some wasted work."""
    try:
        provider.cancel(endpoint, request_id)
    except ProviderError as exc:
        logger.warning("cancel of %s %s failed: %s", endpoint, request_id, exc)


def job_complete(spec: JobSpec, *, job_id, request_id: str, output) -> bool:
    """Complete a job from the provider's output, once; False when it had already finished. Output that cannot
    complete it fails it (refunded). A retryable provider error (a result file not reachable yet) propagates."""
    job = spec.model.objects.filter(pk=job_id, status__in=spec.in_flight,
                                    **{spec.request_field: request_id}).select_related(*spec.select_related).first()
    if job is None:
        return False
    try:
        completion = spec.complete(job, output, fal.provider_get())
    except JobFailed as exc:
        return job_fail(spec, job_id=job_id, reason=exc.reason, failure_reason=exc.failure_reason,
                        request_id=request_id)
    with transaction.atomic():
        done = spec.model.objects.filter(pk=job_id, status__in=spec.in_flight,
                                         **{spec.request_field: request_id}).update(**completion.fields)
        if done:
            spec.on_complete(job)
            job_queue(Next(spec.kind, Step.FINISH, str(job_id)))
    if not done:  # a webhook and a poller raced; the other one kept its copies
        completion.discard()
    return bool(done)


def job_fail_provider(spec: JobSpec, *, job_id, error: ProviderError, request_id: str | None = None) -> bool:
    """Fail a job with a provider error, classed by its HTTP status and error type."""
    return job_fail(spec, job_id=job_id, reason=str(error), request_id=request_id,
                    failure_reason=failure_class(status=error.status, error_type=error.error_type))


def job_fail(spec: JobSpec, *, job_id, reason: str, failure_reason: str = FailureReason.PROVIDER_ERROR,
             request_id: str | None = None) -> bool:
    """Mark a job failed and refund its charge (once); False when it had already finished."""
    with transaction.atomic():
        matching = spec.model.objects.filter(pk=job_id, status__in=spec.in_flight)
        if request_id is not None:
            matching = matching.filter(**{spec.request_field: request_id})
        if not matching.update(status=spec.failed_status, failure_reason=failure_reason,
                               **{spec.error_field: reason[:spec.error_max]}, **spec.failed_fields()):
            return False
        job = spec.model.objects.get(pk=job_id)
        try:
            spec.refund(job, created_by="system")
        except ChargeMismatch as exc:
            # A charge that is not the row's own (the row was changed outside the services) is not refunded:
            # the job still fails, and the refusal is logged for an operator.
            logger.error("%s %s failed, its charge not refunded: %s", spec.kind, job_id, exc)
        job_queue(Next(spec.kind, Step.FINISH, str(job_id)))
    logger.warning("%s %s failed (%s): %s", spec.kind, job_id, failure_reason, reason)
    if failure_reason in OUTAGE_CLASSES:
        provider_outage_report(kind=spec.kind, job_id=job_id, failure_reason=failure_reason, detail=reason)
    return True
