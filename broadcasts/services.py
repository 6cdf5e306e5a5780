"""The operator's broadcast actions: validate a composition, start, pause, resume, cancel. Each is one transaction
on the locked broadcast row; starting and resuming hand delivery to the delivery task once they commit
(``broadcasts.tasks``, where the delivery chain and its rules live). No aiogram here."""

from __future__ import annotations

from functools import partial
from html.parser import HTMLParser

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from broadcasts import tasks
from broadcasts.delivery import INTERRUPTED
from broadcasts.exceptions import (
    BroadcastAlreadyRunning, BroadcastBotUnavailable, BroadcastInvalid, BroadcastStateError, TelegramConfigError,
)
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from broadcasts.selectors import broadcast_audience, broadcast_get_locked
from broadcasts.sender import bot_check

# Stored on recipient rows in English; the admin shows them translated (STORED_ERRORS).
BLOCKED_BEFORE = gettext_noop("blocked the bot before the broadcast")
STORED_ERRORS = frozenset({INTERRUPTED, BLOCKED_BEFORE})
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_CHUNK = 1000


# --- composition ------------------------------------------------------------------------------------------------
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


def broadcast_require_bot() -> None:
    """Delivery needs a bot that Telegram accepts: ``BOT_TOKEN`` set and ``getMe`` answered. Checked before a start
    or a resume, outside their transaction (a network call must not hold the broadcast's lock, nor SQLite's)."""
    try:
        bot_check()
    except TelegramConfigError as error:
        reason = (_("Telegram does not answer getMe: %(error)s") % {"error": error.get_me_error}
                  if error.get_me_error else _("BOT_TOKEN is not set."))
        raise BroadcastBotUnavailable(_("The bot cannot send messages: %(reason)s") % {"reason": reason}) from None


# --- life cycle -------------------------------------------------------------------------------------------------
def _enqueue_delivery(broadcast_id: int) -> None:
    transaction.on_commit(partial(tasks.broadcast_enqueue_delivery, broadcast_id=broadcast_id))


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


def broadcast_start(*, broadcast: Broadcast | int, started_by: str = "") -> Broadcast:
    """Create one recipient row per audience user and start delivery (after commit).

    Users who blocked the bot earlier get a row marked ``blocked`` and no message. Refused without a bot that
    Telegram accepts (``broadcast_require_bot``), after the checks that need no network.
    """
    broadcast_id = broadcast.pk if isinstance(broadcast, Broadcast) else broadcast
    current = Broadcast.objects.get(pk=broadcast_id)
    _check_startable(current)
    if not broadcast_audience(broadcast=current).exists():
        raise BroadcastInvalid(_("Nobody matches the chosen audience."))
    broadcast_require_bot()
    return _start(broadcast_id, started_by)


def _check_startable(broadcast: Broadcast) -> None:
    if broadcast.status != BroadcastStatus.DRAFT:
        raise BroadcastStateError(_("Only a draft can be started; this broadcast is %(status)s.")
                                  % {"status": broadcast.get_status_display()})
    broadcast_validate(broadcast=broadcast)
    _refuse_second_running(broadcast)


@transaction.atomic
def _start(broadcast_id: int, started_by: str) -> Broadcast:
    broadcast = broadcast_get_locked(broadcast=broadcast_id)  # the checks again, under the lock
    _check_startable(broadcast)
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
    broadcast = broadcast_get_locked(broadcast=broadcast)
    if broadcast.status != BroadcastStatus.RUNNING:
        raise BroadcastStateError(_("Only a running broadcast can be paused."))
    broadcast.status = BroadcastStatus.PAUSED
    broadcast.save(update_fields=["status"])
    return broadcast


def broadcast_resume(*, broadcast: Broadcast | int) -> Broadcast:
    """Continue a paused broadcast; refused without a bot that Telegram accepts."""
    broadcast_id = broadcast.pk if isinstance(broadcast, Broadcast) else broadcast
    if Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.PAUSED).exists():
        broadcast_require_bot()
    return _resume(broadcast_id)


@transaction.atomic
def _resume(broadcast_id: int) -> Broadcast:
    broadcast = broadcast_get_locked(broadcast=broadcast_id)
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
    broadcast = broadcast_get_locked(broadcast=broadcast)
    if broadcast.status not in (BroadcastStatus.RUNNING, BroadcastStatus.PAUSED, BroadcastStatus.DRAFT):
        raise BroadcastStateError(_("A broadcast that is %(status)s cannot be cancelled.")
                                  % {"status": broadcast.get_status_display()})
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.finished_at = timezone.now()
    broadcast.save(update_fields=["status", "finished_at"])
    return broadcast
