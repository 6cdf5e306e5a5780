"""Broadcast reads: the audience, what a message consists of, progress, and the states the delivery task looks at."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from broadcasts.exceptions import BroadcastInvalid
from broadcasts.models import Broadcast, BroadcastAudience, BroadcastRecipient, BroadcastStatus, RecipientStatus
from broadcasts.types import Content, Progress


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


# --- the message and the delivery state --------------------------------------------------------------------------
def broadcast_content(*, broadcast: Broadcast) -> Content:
    return Content(
        text=broadcast.text.strip(), photo_name=broadcast.photo.name if broadcast.photo else "",
        photo_file_id=broadcast.photo_file_id, button_text=broadcast.button_text, button_url=broadcast.button_url,
    )


def broadcast_get_locked(*, broadcast: Broadcast | int) -> Broadcast:
    """The broadcast's row, locked until the caller's transaction ends: every change of its status, schedule or
    delivery chain is made under this lock."""
    return Broadcast.objects.select_for_update().get(pk=getattr(broadcast, "pk", broadcast))


def broadcast_has_pending(*, broadcast_id: int) -> bool:
    return BroadcastRecipient.objects.filter(broadcast_id=broadcast_id, status=RecipientStatus.PENDING).exists()


def broadcast_is_running(*, broadcast_id: int) -> bool:
    return Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.RUNNING).exists()


def broadcast_running_ids() -> list[int]:
    return list(Broadcast.objects.filter(status=BroadcastStatus.RUNNING).values_list("pk", flat=True))


# --- progress ---------------------------------------------------------------------------------------------------
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
