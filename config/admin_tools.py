"""Pieces shared by the apps' admins: a paginator that never counts a big table, a date hierarchy that never
scans one, read-only inlines limited to the newest rows, and streamed CSV responses."""

import csv
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, models
from django.utils import timezone
from django.forms.models import BaseInlineFormSet
from django.http import StreamingHttpResponse
from django.utils.functional import cached_property

# Up to this many rows a changelist shows the exact count; beyond it an estimate is good enough.
COUNT_CAP = 10_000
# Whoever moves coins or defines what grants them (promo codes, packages, refunds) holds this permission.
MONEY_PERMISSION = "billing.adjust_balance"


def can_move_money(request) -> bool:
    return request.user.has_perm(MONEY_PERMISSION)


class EstimatedCountPaginator(Paginator):
    """A paginator whose ``count`` costs at most ``COUNT_CAP`` rows.

    The unfiltered list of a big PostgreSQL table takes the planner's estimate (``pg_class.reltuples``, kept
    fresh by autovacuum); any other list counts over ``LIMIT COUNT_CAP + 1``, which is exact for small results
    (and on SQLite's small tables) and stops early on big ones.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where and (estimate := table_row_estimate(queryset)) > COUNT_CAP:
            return estimate
        return queryset.order_by()[: COUNT_CAP + 1].count()


def table_row_estimate(queryset) -> int:
    """PostgreSQL's estimate of the rows in the queryset's table; -1 when unknown or on another database."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def _period_start(moment: datetime, kind: str) -> datetime:
    moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("year", "month"):
        moment = moment.replace(day=1)
    if kind == "year":
        moment = moment.replace(month=1)
    return moment


def _next_period(moment: datetime, kind: str) -> datetime:
    if kind == "day":
        return _period_start(moment + timedelta(days=1), kind)
    if kind == "month":
        return _period_start(moment.replace(day=28) + timedelta(days=4), kind)
    return moment.replace(year=moment.year + 1)


class PeriodRangeQuerySet(models.QuerySet):
    """A queryset whose ``datetimes()`` costs two index lookups instead of a scan of every matching row.

    The admin's ``date_hierarchy`` lists its years, months or days with ``SELECT DISTINCT date_trunc(...)``
    over all matching rows: on a ledger of millions of entries that scan dominates every page view. Here the
    periods are every year/month/day between the first and the last matching row (``MIN``/``MAX`` use the
    ``created_at`` indexes), so a listed period may hold no rows; selecting it shows an empty page.
    """

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        bounds = self.order_by().aggregate(first=models.Min(field_name), last=models.Max(field_name))
        if bounds["first"] is None:
            return []
        first, last = (timezone.localtime(bounds[k], tzinfo) for k in ("first", "last"))
        periods, current = [], _period_start(first, kind)
        while current <= last:
            periods.append(current)
            current = _next_period(current, kind)
        return periods if order == "ASC" else periods[::-1]


class BigTableAdminMixin:
    """For changelists of tables with millions of rows: no exact ``COUNT(*)`` and no full scan for the date
    hierarchy per page view."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self.date_hierarchy:
            return queryset
        ranged = PeriodRangeQuerySet(model=queryset.model, query=queryset.query.chain(), using=queryset._db)
        ranged._prefetch_related_lookups = queryset._prefetch_related_lookups
        return ranged


def newest_rows_formset(limit: int) -> type[BaseInlineFormSet]:
    """An inline formset that shows only the first ``limit`` rows of its ordering (one query)."""

    class NewestRowsFormSet(BaseInlineFormSet):
        def get_queryset(self):
            if not hasattr(self, "_newest_rows"):
                self._newest_rows = super().get_queryset()[:limit]
            return self._newest_rows

    return NewestRowsFormSet


class ReadOnlyInline(admin.TabularInline):
    """An inline that only shows rows: history is written by services, never edited by hand."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _Echo:
    """A file-like object whose ``write`` hands the line back, so ``csv.writer`` can feed a generator."""

    def write(self, value: str) -> str:
        return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (CSV injection); numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_streaming_response(*, filename: str, header: Iterable, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A CSV download produced row by row, so exporting a million rows does not hold them in memory."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM, so that spreadsheet programs read the file as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
