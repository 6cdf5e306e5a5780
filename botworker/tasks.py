"""Broadcast delivery tasks (see ``botworker.broadcasts`` for the at-most-once and pacing rules), and an
operator's re-run of a failed update (``failed_update_handle_again``).

``broadcast_deliver`` is one link of a chain: it sends batches for up to ``BROADCAST_TASK_SECONDS`` and then
enqueues the next link, so no worker is held for hours and every link is a fresh task result. A broadcast has
one chain: a link is enqueued only when no other link of it waits or runs (``broadcast_enqueue_delivery``). Should
two links ever run at once, that is still safe: claims are exclusive and the send schedule is shared through the
database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from functools import partial

from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks import task

from botworker import broadcasts, failed_updates
from botworker.broadcast_sender import BatchSender
from botworker.dispatcher import handle_update_once
from botworker.models import FailedUpdateResolution

logger = logging.getLogger(__name__)

MAX_SLOT_LEAD = 1.0


def task_seconds() -> float:
    return broadcasts.link_seconds()


def broadcast_deliver_batches(*, broadcast_id: int, max_batches: int | None = None,
                              seconds: float | None = None) -> dict:
    """Claim, send and record batches until none is pending, the broadcast stops running, or time is up."""
    deadline = time.monotonic() + (task_seconds() if seconds is None else seconds)
    batches = sent = 0
    lead = broadcasts.SLOT_LEAD
    with BatchSender() as sender:
        while time.monotonic() < deadline and (max_batches is None or batches < max_batches):
            _refresh_connection()
            began = time.monotonic()
            claim = broadcasts.broadcast_claim_batch(broadcast_id=broadcast_id, lead=lead)
            if claim is None:
                break
            # A slot is dated inside the claim's transaction, before its commit: reserve the next one ahead by
            # twice what this claim took, so that a slow database costs a little waiting, not the first turns of
            # every slot (which would leave a batch of one row never sent).
            lead = min(max(broadcasts.SLOT_LEAD, 2 * (time.monotonic() - began)), MAX_SLOT_LEAD)
            try:
                result = sender.send(claim)
            except Exception as error:  # failed before any send (per-recipient errors are caught inside)
                logger.exception("broadcast %s: batch aborted", broadcast_id)
                result = broadcasts.batch_not_sent(claim, reason=f"{type(error).__name__}: {error}")
            _refresh_connection()
            broadcasts.broadcast_record_batch(broadcast_id=broadcast_id, result=result)
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
    if broadcasts.broadcast_is_running(broadcast_id=broadcast_id):
        if broadcasts.broadcast_has_pending(broadcast_id=broadcast_id):
            _chain(context, broadcast_id)
            summary["next"] = "chained"
        elif not broadcasts.broadcast_finish_if_done(broadcast_id=broadcast_id):
            summary["next"] = _check_back_later(context, broadcast_id)
    return summary


def _chain(context, broadcast_id: int, run_after=None) -> None:
    transaction.on_commit(partial(broadcasts.broadcast_enqueue_delivery, broadcast_id=broadcast_id,
                                  run_after=run_after, current_task_id=str(context.task_result.id)))


def _check_back_later(context, broadcast_id: int) -> str:
    """Rows still ``sending`` belong to another worker or to a dead one: look again once they would be stale."""
    backend = broadcast_deliver.get_backend()
    if not backend.supports_defer:
        return "waiting for the resume sweep"
    later = timezone.now() + broadcasts.stale_after() + timedelta(seconds=5)
    _chain(context, broadcast_id, run_after=later)
    return f"check again at {later.isoformat()}"


@task()
def broadcasts_resume_running() -> list[int]:
    """The restart sweep: interrupted rows fail (never resent) and running broadcasts get a delivery link."""
    return broadcasts.broadcast_resume_running()


@task()
def failed_update_handle_again(failed_update_id: int, requested_by: str) -> str:
    """Run a failed update through the dispatcher once more (its effects are keyed: a payment credits once): resolved
    when it goes through, its error and attempts updated on the row when it fails again."""
    row = failed_updates.failed_update_get(failed_update_id=failed_update_id)
    if row.resolved_at is not None:
        return "already resolved"
    try:
        asyncio.run(handle_update_once(row.payload))
    except Exception as error:  # noqa: BLE001 - the cause is still there: the operator sees it on the row
        failed_updates.failed_update_record(
            update_id=row.update_id, payload=row.payload, update_type=row.update_type,
            telegram_user_id=row.telegram_user_id, error=error, attempts=1)
        return f"failed again: {failed_updates.error_name(error)}"
    failed_updates.failed_update_resolve(failed_update_id=failed_update_id, resolved_by=requested_by,
                                         resolution=FailedUpdateResolution.HANDLED)
    return "handled"
