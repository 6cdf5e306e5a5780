"""Operator alerts: a short Telegram message through the bot to every id in ``ADMIN_IDS`` when something needs an
operator (a broadcast paused on an error, a payment flagged, the task queue backing up, a provider outage).

``operator_alert`` only enqueues ``common.tasks.operator_alert_send`` once the caller's transaction commits, so a
rolled-back change alerts nobody and the caller never waits for Telegram. An alert is dropped when one with the
same ``key`` was enqueued within ``OPERATOR_ALERTS_DEDUP_SECONDS``, or when ``OPERATOR_ALERTS_PER_HOUR`` were
enqueued in the last hour (a storm of failures must not become a storm of messages). With the database task
backend (production) both are counted over the queue's own rows, so they hold across processes; with another
backend, over Django's cache. ``OPERATOR_ALERTS_ENABLED=false`` switches alerts off.

Texts are bot texts (Russian msgids, English in locale/en), translated by the caller in the active language.
Imports no app of ours: every layer may alert.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from common.tasks import operator_alert_send

logger = logging.getLogger(__name__)
HOUR = timedelta(hours=1)


def operator_alert(*, key: str, text: str) -> None:
    """Tell the operators ``text`` (after commit, as a task); ``key`` names the event for de-duplication."""
    if not settings.OPERATOR_ALERTS_ENABLED or not settings.ADMIN_IDS:
        return
    transaction.on_commit(partial(_enqueue, key=key[:200], text=text))


def _enqueue(*, key: str, text: str) -> None:
    admitted = _admit_by_queue if isinstance(operator_alert_send.get_backend(), DatabaseBackend) else _admit_by_cache
    if refusal := admitted(key):
        logger.info("operator alert %s not sent: %s", key, refusal)
        return
    operator_alert_send.enqueue(key=key, text=text)


def _window() -> timedelta:
    return timedelta(seconds=settings.OPERATOR_ALERTS_DEDUP_SECONDS)


def _admit_by_queue(key: str) -> str:
    now = timezone.now()
    alerts = DBTaskResult.objects.filter(task_path=operator_alert_send.module_path)
    if alerts.filter(enqueued_at__gte=now - _window(), args_kwargs__kwargs__key=key).exists():
        return "sent recently"
    if alerts.filter(enqueued_at__gte=now - HOUR).count() >= settings.OPERATOR_ALERTS_PER_HOUR:
        return "hourly limit reached"
    return ""


def _admit_by_cache(key: str) -> str:
    if not cache.add(f"operator-alert:{key}", 1, timeout=settings.OPERATOR_ALERTS_DEDUP_SECONDS):
        return "sent recently"
    hour = f"operator-alerts:{timezone.now():%Y%m%d%H}"
    cache.add(hour, 0, timeout=int(HOUR.total_seconds()) + 60)
    if cache.incr(hour) > settings.OPERATOR_ALERTS_PER_HOUR:
        return "hourly limit reached"
    return ""
