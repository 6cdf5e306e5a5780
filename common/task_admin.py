"""Linking the admin's pages to the background tasks behind them (django-tasks-db registers the task results'
admin: Admin -> Tasks Database Backend -> Task Results, read-only, with status, worker ids and the traceback).

For an app's ModelAdmin, e.g. a failed generation (its tasks take the generation id as first argument)::

    from common.task_admin import task_result_link, task_results_with_arg

    @admin.display(description=_("task"))
    def task(self, obj):
        return task_result_link(task_results_with_arg(task_prefix="generations.tasks.", value=str(obj.pk)).first())

or a broadcast, whose delivery tasks take ``broadcast_id=``::

        return task_result_link(task_results_with_kwarg(task_prefix="broadcasts.tasks.", name="broadcast_id",
                                                        value=obj.pk).first())
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django_tasks_db.models import DBTaskResult


def task_result_url(task_id) -> str:
    return reverse("admin:django_tasks_database_dbtaskresult_change", args=[str(task_id)])


def task_result_link(result: DBTaskResult | None) -> str:
    """``<a>`` to the task result's admin page labelled with its task and status; "-" when there is none."""
    if result is None:
        return "-"
    return format_html('<a href="{}">{} · {}</a>', task_result_url(result.pk), result.task_name,
                       result.get_status_display())


def task_results_with_arg(*, task_prefix: str, value, position: int = 0) -> QuerySet[DBTaskResult]:
    """Results of tasks under ``task_prefix`` called with ``value`` as positional argument ``position``; newest
    first, failed ones before others."""
    lookup = {f"args_kwargs__args__{position}": value}
    return _newest_failed_first(DBTaskResult.objects.filter(task_path__startswith=task_prefix, **lookup))


def task_results_with_kwarg(*, task_prefix: str, name: str, value) -> QuerySet[DBTaskResult]:
    """Results of tasks under ``task_prefix`` called with ``name=value``; newest first, failed ones first."""
    lookup = {f"args_kwargs__kwargs__{name}": value}
    return _newest_failed_first(DBTaskResult.objects.filter(task_path__startswith=task_prefix, **lookup))


def _newest_failed_first(results: QuerySet[DBTaskResult]) -> QuerySet[DBTaskResult]:
    from django.db.models import Case, IntegerField, Value, When

    failed_first = Case(When(status="FAILED", then=Value(0)), default=Value(1), output_field=IntegerField())
    return results.order_by(failed_first, "-enqueued_at")
