"""The delivery bookkeeping that the delivery task (``broadcasts.tasks``) relies on: claiming a batch and its slot
in the send schedule, recording what happened, completing a broadcast, failing interrupted rows. The operator's
actions (start, pause, ...) are in ``broadcasts.services``, the Telegram side in ``broadcasts.sender``.

Delivery is **at most once**. A recipient row moves ``pending -> sending`` when a worker claims it (atomically,
``select_for_update(skip_locked=True)`` on PostgreSQL so several workers share the work), then to ``sent``,
``failed`` (with a reason) or ``blocked`` — or back to ``pending`` when it was never attempted: its turn fell
outside the batch's time slot, or came while the worker was stalled (nothing is sent late). A row still in
``sending`` after a worker died may or may not have reached the user, so it is never sent again: it becomes
``failed`` with ``INTERRUPTED`` once it is older than ``BROADCAST_STALE_SENDING_SECONDS``. Losing a few
messages on a crash is better than sending them twice.

The send rate holds across workers: every claimed batch reserves a time slot on the broadcast row
(``next_slot_at``), so batches of different workers follow one schedule at ``BROADCAST_RATE_PER_SECOND``. A
row's ``sent_at`` is the moment its turn on that schedule let it go.
Only one broadcast runs at a time, which makes that schedule the bot's whole broadcast traffic.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.services import user_mark_bot_blocked
from broadcasts import conf
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from broadcasts.selectors import broadcast_content, broadcast_get_locked
from broadcasts.types import BatchResult, Claim, Target
from common.alerts import operator_alert

# Stored on recipient rows in English; the admin shows it translated (services.STORED_ERRORS).
INTERRUPTED = gettext_noop("interrupted, delivery unknown")


@transaction.atomic
def broadcast_claim_batch(*, broadcast_id: int, size: int | None = None,
                          lead: float = conf.SLOT_LEAD) -> Claim | None:
    """Claim up to ``size`` pending rows for this worker and reserve their slot in the shared send schedule: the
    next free one, beginning ``lead`` seconds from now at the earliest.

    Returns None when the broadcast is not running (paused, cancelled) or nothing is pending.
    """
    broadcast = broadcast_get_locked(broadcast=broadcast_id)
    if broadcast.status != BroadcastStatus.RUNNING:
        return None
    pending = (
        BroadcastRecipient.objects.filter(broadcast_id=broadcast_id, status=RecipientStatus.PENDING)
        .order_by("id").select_for_update(skip_locked=True)
    )
    rows = list(pending.values_list("id", "telegram_id")[: size or conf.batch_size()])
    if not rows:
        return None
    now = timezone.now()
    ids = [row_id for row_id, _ in rows]
    BroadcastRecipient.objects.filter(id__in=ids, status=RecipientStatus.PENDING).update(
        status=RecipientStatus.SENDING, attempts=F("attempts") + 1, updated_at=now)
    start_at = max(now + timedelta(seconds=lead), broadcast.next_slot_at or now)
    broadcast.next_slot_at = start_at + timedelta(seconds=len(rows) * conf.send_interval())
    broadcast.save(update_fields=["next_slot_at"])
    targets = [Target(recipient_id=row_id, telegram_id=telegram_id) for row_id, telegram_id in rows]
    return Claim(broadcast_id=broadcast_id, content=broadcast_content(broadcast=broadcast), targets=targets,
                 start_at=start_at)


@transaction.atomic
def broadcast_record_batch(*, broadcast_id: int, result: BatchResult) -> None:
    """Store what happened to each claimed row (``pending`` = not attempted, claimable again); users who blocked
    the bot are marked on their account. A row the restart sweep marked interrupted meanwhile gets its real fate."""
    now = timezone.now()
    # One parametrised UPDATE per row (executemany): bulk_update's CASE expressions cost more than the sends.
    fields = {name: BroadcastRecipient._meta.get_field(name) for name in ("sent_at", "updated_at")}
    table = BroadcastRecipient._meta.db_table
    sql = (f"UPDATE {table} SET status = %s, error = %s, message_id = %s, sent_at = %s, updated_at = %s "
           f"WHERE id = %s AND status IN (%s, %s)")
    params = [
        (o.status, o.error[:500], o.message_id, fields["sent_at"].get_db_prep_value(o.sent_at, connection),
         fields["updated_at"].get_db_prep_value(now, connection), o.recipient_id,
         RecipientStatus.SENDING, RecipientStatus.FAILED)
        for o in result.outcomes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    if unclaimed := [o.recipient_id for o in result.outcomes if o.unclaim and o.status == RecipientStatus.PENDING]:
        BroadcastRecipient.objects.filter(id__in=unclaimed, status=RecipientStatus.PENDING, attempts__gt=0).update(
            attempts=F("attempts") - 1)
    for outcome in result.outcomes:
        if outcome.status == RecipientStatus.BLOCKED:
            user_mark_bot_blocked(telegram_id=outcome.telegram_id)
    if result.photo_file_id:
        Broadcast.objects.filter(pk=broadcast_id).update(photo_file_id=result.photo_file_id)
    if result.backoff_until:
        # Telegram asked us to wait: move the shared schedule so that the other workers wait too.
        Broadcast.objects.filter(pk=broadcast_id).filter(
            Q(next_slot_at__isnull=True) | Q(next_slot_at__lt=result.backoff_until),
        ).update(next_slot_at=result.backoff_until)
    if result.abort_reason:
        _pause_for(broadcast_id, result.abort_reason, forget_photo=result.photo_refused)


def _pause_for(broadcast_id: int, reason: str, *, forget_photo: bool) -> None:
    """Pause a running broadcast by itself, telling the operator why (on its page, and by an operator alert);
    workers stop after their batch."""
    changes = {"status": BroadcastStatus.PAUSED, "last_error": f"{timezone.localtime():%Y-%m-%d %H:%M} {reason}"}
    if forget_photo:
        changes["photo_file_id"] = ""  # a refused file_id must not be reused: upload the photo again on resume
    if Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.RUNNING).update(**changes):
        operator_alert(key=f"broadcast-paused:{broadcast_id}",
                       text=gettext("Рассылка #%(id)s приостановлена: %(reason)s") % {"id": broadcast_id,
                                                                                     "reason": reason})


@transaction.atomic
def broadcast_pause_on_error(*, broadcast_id: int, reason: str) -> None:
    """Pause a running broadcast that cannot be delivered at all (no bot to send with), with the reason."""
    _pause_for(broadcast_id, reason, forget_photo=False)


@transaction.atomic
def broadcast_finish_if_done(*, broadcast_id: int) -> bool:
    """Complete a running broadcast once no row is pending or being sent (stale ``sending`` rows fail first)."""
    broadcast = broadcast_get_locked(broadcast=broadcast_id)
    if broadcast.status != BroadcastStatus.RUNNING:
        return False
    broadcast_fail_interrupted(broadcast_id=broadcast_id)
    busy = BroadcastRecipient.objects.filter(
        broadcast_id=broadcast_id, status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING]).exists()
    if busy:
        return False
    broadcast.status = BroadcastStatus.COMPLETED
    broadcast.finished_at = timezone.now()
    broadcast.save(update_fields=["status", "finished_at"])
    return True


def broadcast_fail_interrupted(*, broadcast_id: int, older_than: timedelta | None = None) -> int:
    """Rows left in ``sending`` by a worker that died: never resent (at most once), marked failed."""
    cutoff = timezone.now() - (conf.stale_after() if older_than is None else older_than)
    return BroadcastRecipient.objects.filter(
        broadcast_id=broadcast_id, status=RecipientStatus.SENDING, updated_at__lte=cutoff,
    ).update(status=RecipientStatus.FAILED, error=INTERRUPTED, updated_at=timezone.now())
