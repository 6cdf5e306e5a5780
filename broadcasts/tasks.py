"""Broadcast delivery on the task queue (see ``broadcasts.delivery`` for the at-most-once and pacing rules).

``broadcast_deliver`` is one link of a chain: it sends batches for up to ``BROADCAST_TASK_SECONDS`` and then
hands over to the next link, so no worker is held for hours and every link is a fresh task result. A broadcast has
one chain. Its *head* is the link recorded on the broadcast (``task_id``): the one that carries the chain on.
Every enqueue goes through ``broadcast_enqueue_delivery`` under the broadcast's lock, which adds a link only when
no link carries on already, and records the head. Should two links ever run at once (a link that looked dead but
was only slow, an extra link enqueued by hand), that is still safe: claims are exclusive and the send schedule is
shared through the database; the one that is not the head leaves the chain to the head when it ends.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.db import close_old_connections, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from broadcasts import conf, delivery
from broadcasts.exceptions import TelegramConfigError
from broadcasts.models import Broadcast
from broadcasts.selectors import (
    broadcast_get_locked, broadcast_has_pending, broadcast_is_running, broadcast_running_ids,
)
from broadcasts.sender import BatchSender
from broadcasts.types import batch_not_sent

logger = logging.getLogger(__name__)

MAX_SLOT_LEAD = 1.0


def broadcast_deliver_batches(*, broadcast_id: int, max_batches: int | None = None,
                              seconds: float | None = None) -> dict:
    """Claim, send and record batches until none is pending, the broadcast stops running, or time is up."""
    deadline = time.monotonic() + (conf.link_seconds() if seconds is None else seconds)
    batches = sent = 0
    lead = conf.SLOT_LEAD
    try:
        sender = BatchSender()
    except TelegramConfigError as error:  # no bot to send with: every row would fail the same way
        delivery.broadcast_pause_on_error(broadcast_id=broadcast_id, reason=str(error))
        return {"batches": 0, "sent": 0, "paused": str(error)}
    with sender:
        while time.monotonic() < deadline and (max_batches is None or batches < max_batches):
            _refresh_connection()
            began = time.monotonic()
            claim = delivery.broadcast_claim_batch(broadcast_id=broadcast_id, lead=lead)
            if claim is None:
                break
            # A slot is dated inside the claim's transaction, before its commit: reserve the next one ahead by
            # twice what this claim took, so that a slow database costs a little waiting, not the first turns of
            # every slot (which would leave a batch of one row never sent).
            lead = min(max(conf.SLOT_LEAD, 2 * (time.monotonic() - began)), MAX_SLOT_LEAD)
            try:
                result = sender.send(claim)
            except Exception as error:  # failed before any send (per-recipient errors are caught inside)
                logger.exception("broadcast %s: batch aborted", broadcast_id)
                result = batch_not_sent(claim, reason=f"{type(error).__name__}: {error}")
            _refresh_connection()
            delivery.broadcast_record_batch(broadcast_id=broadcast_id, result=result)
            batches += 1
            sent += sum(o.status == "sent" for o in result.outcomes)
    return {"batches": batches, "sent": sent}


def _refresh_connection() -> None:
    """A batch may outlast the database connection (a server restart): drop a broken or expired one, but never
    inside a caller's transaction."""
    if not connection.in_atomic_block:
        close_old_connections()


@task(takes_context=True)
def broadcast_deliver(context, broadcast_id: int) -> dict:
    """Deliver part of a broadcast, then chain the next link or complete it."""
    summary = broadcast_deliver_batches(broadcast_id=broadcast_id)
    if broadcast_is_running(broadcast_id=broadcast_id):
        if broadcast_has_pending(broadcast_id=broadcast_id):
            _chain(context, broadcast_id)
            summary["next"] = "chained"
        elif not delivery.broadcast_finish_if_done(broadcast_id=broadcast_id):
            summary["next"] = _check_back_later(context, broadcast_id)
    return summary


def _chain(context, broadcast_id: int, run_after=None) -> None:
    transaction.on_commit(partial(broadcast_enqueue_delivery, broadcast_id=broadcast_id,
                                  run_after=run_after, current_task_id=str(context.task_result.id)))


def _check_back_later(context, broadcast_id: int) -> str:
    """Rows still ``sending`` belong to another worker or to a dead one: look again once they would be stale."""
    backend = broadcast_deliver.get_backend()
    if not backend.supports_defer:
        return "waiting for the resume sweep"
    later = timezone.now() + conf.stale_after() + timedelta(seconds=5)
    _chain(context, broadcast_id, run_after=later)
    return f"check again at {later.isoformat()}"


# --- the chain --------------------------------------------------------------------------------------------------
def broadcast_enqueue_delivery(*, broadcast_id: int, run_after: datetime | None = None,
                               current_task_id: str = "") -> str | None:
    """See that one delivery link of this broadcast carries on — soon, or from ``run_after`` on (a link that found
    nothing to claim, looking again once another worker's rows would be stale) — and record a queued one as the
    head. Returns the id of the link enqueued here, or None when a link already queued or running carries on.

    Every start, resume, periodic sweep and chain hop comes through here, under the broadcast's lock, so a
    broadcast has one chain however often the sweep fires. ``current_task_id`` is the link that is handing over
    (it is still running). A deferred check that carries on while rows are pending runs now instead: pending rows
    never wait for it.
    Only the database backend keeps task results to look at; with other backends the link is always enqueued.
    """
    link = broadcast_deliver if run_after is None else broadcast_deliver.using(run_after=run_after)
    if not isinstance(link.get_backend(), DatabaseBackend):
        result = link.enqueue(broadcast_id=broadcast_id)
        _record_head(broadcast_id, result.id)
        return str(result.id)
    with transaction.atomic():
        broadcast = broadcast_get_locked(broadcast=broadcast_id)  # two sweeps at once: the second waits here
        carrier = _carrier(broadcast, current_task_id=current_task_id)
        if carrier is None:
            result = link.enqueue(broadcast_id=broadcast_id)  # the result row commits with this transaction
            _record_head(broadcast_id, result.id)
            return str(result.id)
        if carrier.status == TaskResultStatus.READY:
            if run_after is None and not _due(carrier) and broadcast_has_pending(broadcast_id=broadcast_id):
                DBTaskResult.objects.filter(pk=carrier.pk, status=TaskResultStatus.READY).update(
                    run_after=timezone.now())
            _record_head(broadcast_id, carrier.pk)
    return None


def _carrier(broadcast: Broadcast, *, current_task_id: str) -> DBTaskResult | None:
    """The link that carries the chain on, if any (never the current one): a queued link (the first due; it has not
    started, so it will see every pending row), or else a running one. A link handing over trusts only the running
    head: a head hands over before it ends (recording a new head), but another running link may have decided
    already, counting on this one. Outside a hand-over (start, resume, sweep) any running link will hand over."""
    links = _delivery_links_in_flight(broadcast.pk, exclude=current_task_id)
    queued = links.filter(status=TaskResultStatus.READY)
    if (link := queued.ready().order_by("enqueued_at").first() or queued.order_by("run_after").first()) is not None:
        return link
    running = links.filter(status=TaskResultStatus.RUNNING)
    if current_task_id:
        running = running.filter(pk=_uuid_or_none(broadcast.task_id))
    return running.first()


def _due(link: DBTaskResult) -> bool:
    return DBTaskResult.objects.ready().filter(pk=link.pk).exists()


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _delivery_links_in_flight(broadcast_id: int, *, exclude: str = "") -> QuerySet[DBTaskResult]:
    """Waiting (also deferred) or running links of this broadcast. A link still ``RUNNING`` long after a link's
    time plus the stale-row time belongs to a dead worker and does not count."""
    alive_since = timezone.now() - timedelta(seconds=conf.link_seconds()) - conf.stale_after()
    links = DBTaskResult.objects.filter(
        task_path=broadcast_deliver.module_path, args_kwargs__kwargs__broadcast_id=broadcast_id,
    ).filter(Q(status=TaskResultStatus.READY) | Q(status=TaskResultStatus.RUNNING, started_at__gte=alive_since))
    return links.exclude(pk=exclude) if exclude else links


def _record_head(broadcast_id: int, task_id) -> None:
    """The admin links a broadcast to its head (the newest delivery link; the one that failed, if the chain
    broke)."""
    Broadcast.objects.filter(pk=broadcast_id).update(task_id=str(task_id)[:64])


# --- restart ----------------------------------------------------------------------------------------------------
def broadcast_resume_running(*, older_than: timedelta | None = None) -> list[int]:
    """The restart entry point (``resume_broadcasts``, and the periodic sweep): fail interrupted rows of running
    broadcasts and see that each has a delivery link."""
    ids = broadcast_running_ids()
    for broadcast_id in ids:
        delivery.broadcast_fail_interrupted(broadcast_id=broadcast_id, older_than=older_than)
        with transaction.atomic():
            transaction.on_commit(partial(broadcast_enqueue_delivery, broadcast_id=broadcast_id))
    return ids


@task()
def broadcasts_resume_running() -> list[int]:
    """The restart sweep: interrupted rows fail (never resent) and running broadcasts get a delivery link."""
    return broadcast_resume_running()
