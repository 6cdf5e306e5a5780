"""Broadcasts: choosing the audience, starting, pausing, resuming and cancelling, the delivery bookkeeping that
the delivery task relies on, and progress reads.

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

No aiogram here: the Telegram side lives in ``botworker.broadcast_sender`` and ``botworker.tasks``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from html.parser import HTMLParser

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from accounts.services import user_mark_bot_blocked
from botworker.models import (
    Broadcast, BroadcastAudience, BroadcastRecipient, BroadcastStatus, RecipientStatus,
)

# Stored on recipient rows in English; the admin shows them translated (STORED_ERRORS).
INTERRUPTED = gettext_noop("interrupted, delivery unknown")
BLOCKED_BEFORE = gettext_noop("blocked the bot before the broadcast")
STORED_ERRORS = frozenset({INTERRUPTED, BLOCKED_BEFORE})
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_CHUNK = 1000


class BroadcastError(Exception):
    """Base of the broadcast errors (shown to the operator as they are, in the language active when raised)."""


class BroadcastInvalid(BroadcastError):
    pass


class BroadcastStateError(BroadcastError):
    """The action does not fit the broadcast's current status."""


class BroadcastAlreadyRunning(BroadcastError):
    pass


# Messages leave 5% slower than the configured rate: network jitter bunches them on arrival, and the rate is
# Telegram's ceiling, not a target.
PACE_MARGIN = 0.95


# A slot claimed while the schedule is idle begins this far ahead (at least), so that the worker is ready when it
# begins: turns already past when it starts sending are lost (their rows wait for another batch).
SLOT_LEAD = 0.05


def rate_per_second() -> float:
    return float(getattr(settings, "BROADCAST_RATE_PER_SECOND", 30))


def send_interval() -> float:
    """Seconds between two message starts, over all workers."""
    return 1.0 / (rate_per_second() * PACE_MARGIN)


def batch_size() -> int:
    return int(getattr(settings, "BROADCAST_BATCH_SIZE", 50))


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "BROADCAST_STALE_SENDING_SECONDS", 600)))


# --- audience ---------------------------------------------------------------------------------------------------
def parse_telegram_ids(text: str) -> list[int]:
    """Ids separated by spaces, commas, semicolons or lines; anything else is an error, not silently dropped."""
    tokens = [t for t in re.split(r"[\s,;]+", text or "") if t]
    bad = [t for t in tokens if not t.lstrip("-").isdigit()]
    if bad:
        raise BroadcastInvalid(_("Not Telegram ids: %(ids)s") % {"ids": ", ".join(bad[:5])})
    return sorted({int(t) for t in tokens})


def broadcast_audience(*, broadcast: Broadcast) -> QuerySet[User]:
    """The users a broadcast goes to. Bots and users blocked by an operator never get broadcasts.

    "Inactive for N days" counts users without any recorded activity (rows from the legacy database) as inactive.
    """
    users = User.objects.filter(is_bot=False, is_blocked=False)
    audience = broadcast.audience
    if audience == BroadcastAudience.ALL:
        return users
    if audience == BroadcastAudience.PREMIUM:
        return users.filter(is_premium=True)
    if audience == BroadcastAudience.WITH_BALANCE:
        return users.filter(balance__coins__gt=0)
    if audience == BroadcastAudience.INACTIVE:
        if not broadcast.inactive_days:
            raise BroadcastInvalid(_("Set the number of days for the “inactive” audience."))
        since = timezone.now() - timedelta(days=broadcast.inactive_days)
        return users.filter(Q(last_activity_at__lt=since) | Q(last_activity_at__isnull=True))
    if audience == BroadcastAudience.TELEGRAM_IDS:
        ids = parse_telegram_ids(broadcast.telegram_ids)
        if not ids:
            raise BroadcastInvalid(_("The list of Telegram ids is empty."))
        return users.filter(telegram_id__in=ids)
    raise BroadcastInvalid(_("Unknown audience %(audience)s.") % {"audience": repr(audience)})


def broadcast_unknown_telegram_ids(*, broadcast: Broadcast) -> list[int]:
    """Listed ids that are not (messageable) bot users: they get no row, and the operator should know."""
    if broadcast.audience != BroadcastAudience.TELEGRAM_IDS:
        return []
    ids = parse_telegram_ids(broadcast.telegram_ids)
    known = set(broadcast_audience(broadcast=broadcast).values_list("telegram_id", flat=True))
    return [i for i in ids if i not in known]


TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
                 "pre", "blockquote", "tg-emoji"}


class _TelegramHTML(HTMLParser):
    """Telegram refuses a whole message over one bad tag, so check before sending it to thousands."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.errors.append(_("<%(tag)s> is not supported by Telegram") % {"tag": tag})
        else:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.errors.append(_("<%(tag)s/> is not supported by Telegram (use a line break)") % {"tag": tag})

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.errors.append(_("</%(tag)s> does not close the last open tag") % {"tag": tag})


def telegram_html_errors(text: str) -> list[str]:
    checker = _TelegramHTML()
    checker.feed(text)
    checker.close()
    return checker.errors + [_("<%(tag)s> is never closed") % {"tag": tag} for tag in reversed(checker.open)]


def broadcast_validate(*, broadcast: Broadcast) -> None:
    """The message must be sendable as composed: Telegram's HTML subset and length limits, a button needs both
    text and link, the audience must be well defined."""
    text = (broadcast.text or "").strip()
    if not text:
        raise BroadcastInvalid(_("The message text is empty."))
    if errors := telegram_html_errors(text):
        raise BroadcastInvalid(_("The text is not valid Telegram HTML: %(errors)s.")
                               % {"errors": "; ".join(errors[:3])})
    limit = CAPTION_LIMIT if broadcast.photo else TEXT_LIMIT
    if len(text) > limit:
        raise BroadcastInvalid(_("The text is %(length)d characters long; Telegram allows %(limit)d here.")
                               % {"length": len(text), "limit": limit})
    if bool(broadcast.button_text) != bool(broadcast.button_url):
        raise BroadcastInvalid(_("A button needs both its text and its link."))
    broadcast_audience(broadcast=broadcast)


# --- life cycle -------------------------------------------------------------------------------------------------
DELIVERY_TASK = "botworker.tasks.broadcast_deliver"


def link_seconds() -> float:
    """How long one delivery link sends before it hands over to the next one."""
    return float(getattr(settings, "BROADCAST_TASK_SECONDS", 60))


def _enqueue_delivery(broadcast_id: int) -> None:
    transaction.on_commit(partial(broadcast_enqueue_delivery, broadcast_id=broadcast_id))


def broadcast_enqueue_delivery(*, broadcast_id: int, run_after: datetime | None = None,
                               current_task_id: str = "") -> str | None:
    """Enqueue the next delivery link unless another link of this broadcast already waits or runs (that one
    carries the chain on), and record it as the broadcast's task. Returns the new task id, or None.

    Every start, resume, periodic sweep and chain hop comes through here, so a broadcast has one chain however
    often the sweep fires. ``current_task_id`` is the link that is handing over (it is still running).
    Only the database backend keeps task results to look at; with other backends the link is always enqueued.
    """
    from botworker import tasks  # tasks import this module

    task = tasks.broadcast_deliver if run_after is None else tasks.broadcast_deliver.using(run_after=run_after)
    if not _backend_keeps_results(task):
        result = task.enqueue(broadcast_id=broadcast_id)
        _record_task(broadcast_id, result.id)
        return str(result.id)
    with transaction.atomic():
        _locked(broadcast_id)  # two sweeps at once: the second waits here, then sees the first one's link
        if _delivery_links_in_flight(broadcast_id, exclude=current_task_id).exists():
            return None
        result = task.enqueue(broadcast_id=broadcast_id)  # the result row commits with this transaction
        _record_task(broadcast_id, result.id)
    return str(result.id)


def _backend_keeps_results(task) -> bool:
    from django_tasks_db import DatabaseBackend

    return isinstance(task.get_backend(), DatabaseBackend)


def _delivery_links_in_flight(broadcast_id: int, *, exclude: str = ""):
    """Waiting (also deferred) or running links of this broadcast. A link still ``RUNNING`` long after a link's
    time plus the stale-row time belongs to a dead worker and does not count."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    alive_since = timezone.now() - timedelta(seconds=link_seconds()) - stale_after()
    links = DBTaskResult.objects.filter(task_path=DELIVERY_TASK, args_kwargs__kwargs__broadcast_id=broadcast_id).filter(
        Q(status=TaskResultStatus.READY) | Q(status=TaskResultStatus.RUNNING, started_at__gte=alive_since))
    return links.exclude(pk=exclude) if exclude else links


def _record_task(broadcast_id: int, task_id) -> None:
    """The admin links a broadcast to its newest delivery link (the one that failed, if the chain broke)."""
    Broadcast.objects.filter(pk=broadcast_id).update(task_id=str(task_id)[:64])


def _locked(broadcast: Broadcast | int) -> Broadcast:
    return Broadcast.objects.select_for_update().get(pk=getattr(broadcast, "pk", broadcast))


def _refuse_second_running(broadcast: Broadcast) -> None:
    other = Broadcast.objects.filter(status=BroadcastStatus.RUNNING).exclude(pk=broadcast.pk).first()
    if other is not None:
        raise BroadcastAlreadyRunning(_("Broadcast #%(id)s (%(title)s) is running; pause or cancel it first.")
                                      % {"id": other.pk, "title": other})


def _save_running(broadcast: Broadcast, fields: list[str]) -> None:
    """Save the switch to ``running``; the database's one-running constraint settles two operators starting
    different broadcasts at the same moment (both passed ``_refuse_second_running``)."""
    try:
        with transaction.atomic():
            broadcast.save(update_fields=fields)
    except IntegrityError:
        raise BroadcastAlreadyRunning(_("Another broadcast is running; pause or cancel it first.")) from None


@transaction.atomic
def broadcast_start(*, broadcast: Broadcast | int, started_by: str = "") -> Broadcast:
    """Create one recipient row per audience user and start delivery (after commit).

    Users who blocked the bot earlier get a row marked ``blocked`` and no message.
    """
    broadcast = _locked(broadcast)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise BroadcastStateError(_("Only a draft can be started; this broadcast is %(status)s.")
                                  % {"status": broadcast.get_status_display()})
    broadcast_validate(broadcast=broadcast)
    _refuse_second_running(broadcast)
    created = _create_recipients(broadcast)
    if not created:
        raise BroadcastInvalid(_("Nobody matches the chosen audience."))
    broadcast.status = BroadcastStatus.RUNNING
    broadcast.started_at = timezone.now()
    broadcast.next_slot_at = None
    if started_by and not broadcast.created_by:
        broadcast.created_by = started_by[:150]
    _save_running(broadcast, ["status", "started_at", "next_slot_at", "created_by"])
    _enqueue_delivery(broadcast.pk)
    return broadcast


def _create_recipients(broadcast: Broadcast) -> int:
    users = broadcast_audience(broadcast=broadcast).order_by("telegram_id").values_list(
        "id", "telegram_id", "bot_blocked_at")
    rows, created = [], 0
    for user_id, telegram_id, blocked_at in users.iterator(chunk_size=_CHUNK):
        rows.append(BroadcastRecipient(
            broadcast=broadcast, user_id=user_id, telegram_id=telegram_id,
            status=RecipientStatus.BLOCKED if blocked_at else RecipientStatus.PENDING,
            error=BLOCKED_BEFORE if blocked_at else "",
        ))
        if len(rows) >= _CHUNK:
            created += len(BroadcastRecipient.objects.bulk_create(rows, ignore_conflicts=True))
            rows = []
    if rows:
        created += len(BroadcastRecipient.objects.bulk_create(rows, ignore_conflicts=True))
    return created


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast | int) -> Broadcast:
    """Workers stop after the batch they are sending."""
    broadcast = _locked(broadcast)
    if broadcast.status != BroadcastStatus.RUNNING:
        raise BroadcastStateError(_("Only a running broadcast can be paused."))
    broadcast.status = BroadcastStatus.PAUSED
    broadcast.save(update_fields=["status"])
    return broadcast


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast | int) -> Broadcast:
    broadcast = _locked(broadcast)
    if broadcast.status != BroadcastStatus.PAUSED:
        raise BroadcastStateError(_("Only a paused broadcast can be resumed."))
    _refuse_second_running(broadcast)
    broadcast.status = BroadcastStatus.RUNNING
    broadcast.last_error = ""  # the operator has dealt with it
    _save_running(broadcast, ["status", "last_error"])
    _enqueue_delivery(broadcast.pk)
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast | int) -> Broadcast:
    """Stop for good; rows not yet sent stay ``pending`` and are counted as left."""
    broadcast = _locked(broadcast)
    if broadcast.status not in (BroadcastStatus.RUNNING, BroadcastStatus.PAUSED, BroadcastStatus.DRAFT):
        raise BroadcastStateError(_("A broadcast that is %(status)s cannot be cancelled.")
                                  % {"status": broadcast.get_status_display()})
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.finished_at = timezone.now()
    broadcast.save(update_fields=["status", "finished_at"])
    return broadcast


def broadcast_fail_interrupted(*, broadcast_id: int, older_than: timedelta | None = None) -> int:
    """Rows left in ``sending`` by a worker that died: never resent (at most once), marked failed."""
    cutoff = timezone.now() - (stale_after() if older_than is None else older_than)
    return BroadcastRecipient.objects.filter(
        broadcast_id=broadcast_id, status=RecipientStatus.SENDING, updated_at__lte=cutoff,
    ).update(status=RecipientStatus.FAILED, error=INTERRUPTED, updated_at=timezone.now())


def broadcast_resume_running(*, older_than: timedelta | None = None) -> list[int]:
    """The restart entry point (and the periodic sweep): fail interrupted rows of running broadcasts and give
    each a delivery link unless one already waits or runs."""
    ids = list(Broadcast.objects.filter(status=BroadcastStatus.RUNNING).values_list("pk", flat=True))
    for broadcast_id in ids:
        broadcast_fail_interrupted(broadcast_id=broadcast_id, older_than=older_than)
        with transaction.atomic():
            _enqueue_delivery(broadcast_id)
    return ids


# --- delivery bookkeeping (used by the delivery task) -----------------------------------------------------------
@dataclass(frozen=True)
class Content:
    text: str
    photo_name: str = ""
    photo_file_id: str = ""
    button_text: str = ""
    button_url: str = ""


@dataclass(frozen=True)
class Target:
    recipient_id: int
    telegram_id: int


@dataclass
class Claim:
    broadcast_id: int
    content: Content
    targets: list[Target]
    start_at: datetime


@dataclass
class Outcome:
    recipient_id: int
    telegram_id: int
    status: str
    error: str = ""
    message_id: int | None = None
    sent_at: datetime | None = None
    # Back to pending as if never claimed (no turn for it, or the batch was aborted before it reached Telegram).
    unclaim: bool = False


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    photo_file_id: str = ""
    backoff_until: datetime | None = None
    # Set when the batch stopped for a reason that would fail every recipient (unreadable or refused photo, a
    # bug): the broadcast pauses with this reason instead of failing everyone.
    abort_reason: str = ""
    photo_refused: bool = False


def batch_not_sent(claim: Claim, *, reason: str) -> BatchResult:
    """The result of a batch that failed before any of its rows reached Telegram."""
    return BatchResult(outcomes=[Outcome(t.recipient_id, t.telegram_id, RecipientStatus.PENDING, unclaim=True)
                                 for t in claim.targets], abort_reason=reason)


def broadcast_content(*, broadcast: Broadcast) -> Content:
    return Content(
        text=broadcast.text.strip(), photo_name=broadcast.photo.name if broadcast.photo else "",
        photo_file_id=broadcast.photo_file_id, button_text=broadcast.button_text, button_url=broadcast.button_url,
    )


@transaction.atomic
def broadcast_claim_batch(*, broadcast_id: int, size: int | None = None, lead: float = SLOT_LEAD) -> Claim | None:
    """Claim up to ``size`` pending rows for this worker and reserve their slot in the shared send schedule: the
    next free one, beginning ``lead`` seconds from now at the earliest.

    Returns None when the broadcast is not running (paused, cancelled) or nothing is pending.
    """
    broadcast = _locked(broadcast_id)
    if broadcast.status != BroadcastStatus.RUNNING:
        return None
    pending = (
        BroadcastRecipient.objects.filter(broadcast_id=broadcast_id, status=RecipientStatus.PENDING)
        .order_by("id").select_for_update(skip_locked=True)
    )
    rows = list(pending.values_list("id", "telegram_id")[: size or batch_size()])
    if not rows:
        return None
    now = timezone.now()
    ids = [row_id for row_id, _ in rows]
    BroadcastRecipient.objects.filter(id__in=ids, status=RecipientStatus.PENDING).update(
        status=RecipientStatus.SENDING, attempts=F("attempts") + 1, updated_at=now)
    start_at = max(now + timedelta(seconds=lead), broadcast.next_slot_at or now)
    broadcast.next_slot_at = start_at + timedelta(seconds=len(rows) * send_interval())
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
    """Pause a running broadcast by itself, telling the operator why; workers stop after their batch."""
    changes = {"status": BroadcastStatus.PAUSED, "last_error": f"{timezone.localtime():%Y-%m-%d %H:%M} {reason}"}
    if forget_photo:
        changes["photo_file_id"] = ""  # a refused file_id must not be reused: upload the photo again on resume
    Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.RUNNING).update(**changes)


@transaction.atomic
def broadcast_finish_if_done(*, broadcast_id: int) -> bool:
    """Complete a running broadcast once no row is pending or being sent (stale ``sending`` rows fail first)."""
    broadcast = _locked(broadcast_id)
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


def broadcast_has_pending(*, broadcast_id: int) -> bool:
    return BroadcastRecipient.objects.filter(broadcast_id=broadcast_id, status=RecipientStatus.PENDING).exists()


def broadcast_is_running(*, broadcast_id: int) -> bool:
    return Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.RUNNING).exists()


# --- progress (reads) -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    blocked: int
    left: int

    def __str__(self) -> str:
        return f"sent {self.sent} · failed {self.failed} · blocked {self.blocked} · left {self.left} / {self.total}"


def _progress_counts(prefix: str = "") -> dict:
    def count(*statuses):
        return Count(f"{prefix}id", filter=Q(**{f"{prefix}status__in": statuses}))

    return {
        "n_total": Count(f"{prefix}id"),
        "n_sent": count(RecipientStatus.SENT),
        "n_failed": count(RecipientStatus.FAILED),
        "n_blocked": count(RecipientStatus.BLOCKED),
        "n_left": count(RecipientStatus.PENDING, RecipientStatus.SENDING),
    }


def broadcast_progress(*, broadcast: Broadcast | int) -> Progress:
    counts = BroadcastRecipient.objects.filter(broadcast_id=getattr(broadcast, "pk", broadcast)).aggregate(
        **_progress_counts())
    return Progress(*(counts[k] for k in ("n_total", "n_sent", "n_failed", "n_blocked", "n_left")))


def broadcast_list_with_progress() -> QuerySet[Broadcast]:
    """Broadcasts annotated with ``n_total``, ``n_sent``, ``n_failed``, ``n_blocked``, ``n_left``."""
    return Broadcast.objects.annotate(**_progress_counts("recipients__"))
