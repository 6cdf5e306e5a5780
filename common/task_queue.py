"""Watching the task queue (django-tasks-db's rows): tasks left waiting mean too few workers, or none running."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

from common.alerts import operator_alert


def task_queue_backlog() -> int:
    """How many tasks, ready to run, have waited longer than ``TASK_QUEUE_BACKLOG_MINUTES`` (a deferred task
    waits from its ``run_after``)."""
    waited_since = timezone.now() - timedelta(minutes=settings.TASK_QUEUE_BACKLOG_MINUTES)
    return DBTaskResult.objects.ready().filter(
        Q(run_after=get_date_max()) | Q(run_after__lte=waited_since), enqueued_at__lte=waited_since,
    ).count()


@task(priority=100)
def task_queue_check_backlog() -> int:
    """The periodic check: alert the operators when more than ``TASK_QUEUE_BACKLOG_THRESHOLD`` tasks wait too
    long; returns how many wait."""
    waiting = task_queue_backlog()
    if waiting > settings.TASK_QUEUE_BACKLOG_THRESHOLD:
        operator_alert(key="task-queue-backlog", text=gettext(
            "⚠️ Очередь задач не успевает: %(count)s задач ждут дольше %(minutes)s мин. Проверьте, что db_worker "
            "запущен.") % {"count": waiting, "minutes": settings.TASK_QUEUE_BACKLOG_MINUTES})
    return waiting
