"""Pieces shared by the apps' admins: a paginator that never counts a big table, read-only inlines limited to
the newest rows, and streamed CSV responses."""

import csv
from collections.abc import Iterable

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.forms.models import BaseInlineFormSet
from django.http import StreamingHttpResponse
from django.utils.functional import cached_property

# Up to this many rows a changelist shows the exact count; beyond it an estimate is good enough.
COUNT_CAP = 10_000


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


class BigTableAdminMixin:
    """For changelists of tables with millions of rows: no exact ``COUNT(*)`` per page view."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


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


def csv_streaming_response(*, filename: str, header: Iterable, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A CSV download produced row by row, so exporting a million rows does not hold them in memory."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM, so that spreadsheet programs read the file as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
