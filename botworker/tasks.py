"""Broadcast delivery tasks (see ``botworker.broadcasts`` for the at-most-once and pacing rules).

``broadcast_deliver`` is one link of a chain: it sends batches for up to ``BROADCAST_TASK_SECONDS`` and then
enqueues the next link, so no worker is held for hours and every link is a fresh task result. Any number of
links may run at once on different workers (a restart sweep adds one): claims are exclusive and the send
schedule is shared through the database.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks import task

from botworker import broadcasts
from botworker.broadcast_sender import BatchSender

logger = logging.getLogger(__name__)


def task_seconds() -> float:
    return float(getattr(settings, "BROADCAST_TASK_SECONDS", 60))


def broadcast_deliver_batches(*, broadcast_id: int, max_batches: int | None = None,
                              seconds: float | None = None) -> dict:
    """Claim, send and record batches until none is pending, the broadcast stops running, or time is up."""
    deadline = time.monotonic() + (task_seconds() if seconds is None else seconds)
    batches = sent = 0
    with BatchSender() as sender:
        while time.monotonic() < deadline and (max_batches is None or batches < max_batches):
            _refresh_connection()
            claim = broadcasts.broadcast_claim_batch(broadcast_id=broadcast_id)
            if claim is None:
                break
            result = sender.send(claim)
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


@task()
def broadcast_deliver(broadcast_id: int) -> dict:
    """Deliver part of a broadcast, then chain the next link or complete it."""
    summary = broadcast_deliver_batches(broadcast_id=broadcast_id)
    if broadcasts.broadcast_is_running(broadcast_id=broadcast_id):
        if broadcasts.broadcast_has_pending(broadcast_id=broadcast_id):
            transaction.on_commit(partial(broadcast_deliver.enqueue, broadcast_id=broadcast_id))
            summary["next"] = "chained"
        elif not broadcasts.broadcast_finish_if_done(broadcast_id=broadcast_id):
            summary["next"] = _check_back_later(broadcast_id)
    return summary


def _check_back_later(broadcast_id: int) -> str:
    """Rows still ``sending`` belong to another worker or to a dead one: look again once they would be stale."""
    backend = broadcast_deliver.get_backend()
    if not backend.supports_defer:
        return "waiting for the resume sweep"
    later = timezone.now() + broadcasts.stale_after() + timedelta(seconds=5)
    transaction.on_commit(partial(broadcast_deliver.using(run_after=later).enqueue, broadcast_id=broadcast_id))
    return f"check again at {later.isoformat()}"


@task()
def broadcasts_resume_running() -> list[int]:
    """The restart sweep: interrupted rows fail (never resent) and running broadcasts get a delivery link."""
    return broadcasts.broadcast_resume_running()
