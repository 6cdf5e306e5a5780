"""Pieces shared by the apps' admins: read-only pages and inlines, the Telegram-id search, a paginator that never
counts a big table, a date hierarchy that never scans one, inlines limited to the newest rows, and streamed CSV
responses. Like all of ``common``, it imports no app of ours."""

import csv
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin import widgets
from django.core.paginator import Paginator
from django.db import connections, models
from django.utils import timezone
from django.utils.formats import date_format
from django.forms.models import BaseInlineFormSet
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import Truncator

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


class ReadOnlyAdminMixin:
    """Rows that only services write: nobody, superusers included, adds, edits or deletes them here.

    With ``change_unlocks_actions`` the model's change permission still grants the changelist's actions (block,
    refund, retry...), never a row's form: the row's page stays view-only.
    """

    change_unlocks_actions = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return self.change_unlocks_actions and obj is None and super().has_change_permission(request)


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """An inline that only shows rows: history is written by services, never edited by hand."""

    extra = 0
    can_delete = False


class NewestRowsInline(ReadOnlyInline):
    """A read-only inline of the parent's newest ``limit`` rows (by ``ordering``), with a "Show all" link to the
    rows' changelist filtered on the parent (``show_all_params``). One query, however many rows there are."""

    limit = 20
    template = "admin/edit_inline/newest_rows.html"

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("formset", newest_rows_formset(self.limit))
        formset = super().get_formset(request, obj, **kwargs)
        formset.show_all_url = self.show_all_url(obj) if obj is not None else ""
        return formset

    def show_all_params(self, parent) -> dict:
        return {f"{self.fk_name}__{parent._meta.pk.name}__exact": parent.pk}

    def show_all_url(self, parent) -> str:
        info = self.opts.app_label, self.opts.model_name
        try:
            changelist = reverse("admin:%s_%s_changelist" % info, current_app=self.admin_site.name)
        except NoReverseMatch:  # the rows have no list of their own
            return ""
        return f"{changelist}?{urlencode(self.show_all_params(parent))}"


class TelegramIdSearchMixin:
    """A search term of digits (an optional leading @ aside) is a Telegram id: an exact match on the unique index
    of ``telegram_id_lookup`` instead of a LIKE scan over every search field. Other terms search as usual."""

    telegram_id_lookup = "user__telegram_id"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("@")
        if term.isdigit():
            return queryset.filter(**{self.telegram_id_lookup: int(term)}), False
        return super().get_search_results(request, queryset, term)


class AdminFormMixin:
    """A plain form (an intermediate page's) drawn with the admin's own widgets: text boxes, number boxes,
    date and time pickers (a date-time becomes the admin's split date and time fields), inline radio lists.
    Its page loads ``form.media`` after the admin's ``core.js`` and ``jsi18n`` for the pickers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in list(self.fields.items()):
            self.fields[name] = _admin_field(field)


def _admin_field(field: forms.Field) -> forms.Field:
    if isinstance(field, forms.DateTimeField):
        return forms.SplitDateTimeField(
            label=field.label, required=field.required, help_text="", initial=field.initial,
            widget=widgets.AdminSplitDateTime,
        )
    widget = field.widget
    if isinstance(widget, forms.HiddenInput):
        return field
    if isinstance(field, forms.DateField):
        field.widget = widgets.AdminDateWidget()
    elif isinstance(widget, forms.RadioSelect):
        field.widget = widgets.AdminRadioSelect(choices=widget.choices, attrs={"class": "radiolist inline"})
    elif isinstance(widget, forms.Textarea):
        field.widget = widgets.AdminTextareaWidget(attrs=widget.attrs)
    elif isinstance(field, forms.IntegerField) and not field.localize:
        field.widget = widgets.AdminIntegerFieldWidget(attrs=field.widget_attrs(widgets.AdminIntegerFieldWidget()))
    elif type(widget) in (forms.TextInput, forms.NumberInput):
        field.widget = widgets.AdminTextInputWidget(attrs={**field.widget_attrs(widget), **widget.attrs})
    return field


def short_datetime_column(field: str, *, description):
    """A list column of the date-time ``field`` in the short local format (02.12.2026 17:26), narrower than the
    admin's long one (2 декабря 2026 г. 17:26); sortable, the empty value (a dash) for None."""

    @admin.display(description=description, ordering=field)
    def display(model_admin, obj):
        value = getattr(obj, field)
        if value is None:
            return model_admin.get_empty_value_display()
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")

    return display


def truncated(text, length: int) -> str:
    """``text`` cut to ``length`` characters for a narrow column, the whole of it in the title (shown on hover)."""
    text = str(text or "")
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(length))


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


def csv_cell(value, *, decimal_separator: str = "."):
    """One cell as a spreadsheet with the operator's settings reads it: numbers with ``decimal_separator`` and no
    grouping, times in the configured zone, text neutralised against formulas, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", decimal_separator)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return csv_safe(value)


def csv_streaming_response(*, filename: str, header: Iterable, rows: Iterable[Iterable],
                           delimiter: str = ";") -> StreamingHttpResponse:
    """A CSV download produced row by row, so exporting a million rows does not hold them in memory.

    Made for Excel with Russian settings: a BOM (read as UTF-8) and ``;`` between cells (Russian Excel's list
    separator, since the comma is its decimal separator). Cells are written as given: see ``csv_cell``."""
    writer = csv.writer(_Echo(), delimiter=delimiter)

    def lines():
        yield "\ufeff"  # a BOM, so that spreadsheet programs read the file as UTF-8
        yield writer.writerow([str(title) for title in header])
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
