"""Updates that failed for good (``FailedUpdate``): recorded by the poller after its retries, shown in the admin,
handled again or marked resolved by an operator.

A record never holds a secret: the error text has the values of the secret settings (bot token, webhook secrets,
FAL key, ``SECRET_KEY``, the database password) masked, since a database or HTTP error may quote them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from botworker.models import FailedUpdate, FailedUpdateResolution

MESSAGE_LIMIT = 2000
SECRET_SETTINGS = ("BOT_TOKEN", "BOT_WEBHOOK_SECRET", "FAL_KEY", "FAL_WEBHOOK_SECRET", "SECRET_KEY")
MASK = "[secret]"


def secret_values() -> list[str]:
    values = [getattr(settings, name, "") for name in SECRET_SETTINGS]
    values += [connections[alias].settings_dict.get("PASSWORD") for alias in connections]
    # Longest first, so that a secret containing another is masked whole.
    return sorted({v for v in values if isinstance(v, str) and len(v) >= 4}, key=len, reverse=True)


def error_text(error: BaseException) -> str:
    """``str(error)`` with every secret masked, cut to ``MESSAGE_LIMIT``."""
    text = str(error)
    for secret in secret_values():
        text = text.replace(secret, MASK)
    return text[:MESSAGE_LIMIT]


def error_name(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"[:200]


@transaction.atomic
def failed_update_record(
    *, update_id: int, payload: dict, update_type: str, telegram_user_id: int | None, error: BaseException,
    attempts: int,
) -> FailedUpdate:
    """Record that ``update_id`` failed ``attempts`` more times with ``error``; one row per update, reopened when it
    fails again after being resolved."""
    now = timezone.now()
    row, created = FailedUpdate.objects.select_for_update().get_or_create(update_id=update_id, defaults={
        "payload": payload, "update_type": update_type[:64], "telegram_user_id": telegram_user_id,
        "error_type": error_name(error), "error_message": error_text(error), "attempts": attempts,
        "first_failed_at": now, "last_failed_at": now,
    })
    if not created:
        row.error_type, row.error_message = error_name(error), error_text(error)
        row.attempts += attempts
        row.last_failed_at = now
        row.resolved_at, row.resolved_by, row.resolution = None, "", ""
        row.full_clean()
        row.save()
    return row


@transaction.atomic
def failed_update_resolve(*, failed_update_id: int, resolved_by: str, resolution: FailedUpdateResolution) -> bool:
    """Mark a failed update resolved; False when it already was."""
    row = FailedUpdate.objects.select_for_update().get(pk=failed_update_id)
    if row.resolved_at is not None:
        return False
    row.resolved_at, row.resolved_by, row.resolution = timezone.now(), resolved_by[:150], resolution
    row.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return True


def failed_update_get(*, failed_update_id: int) -> FailedUpdate:
    return FailedUpdate.objects.get(pk=failed_update_id)
