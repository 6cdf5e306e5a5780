"""The operators' stats page: a handful of aggregate queries over indexed ``created_at`` ranges, drawn as
server-side SVG bar charts (no JavaScript, no CDN)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from accounts.models import User
from billing.formats import figure
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance
from generations.models import Avatar, AvatarStatus, ImageGeneration

DAYS = 30


@dataclass(frozen=True)
class Series:
    title: str
    points: list[tuple[date, Decimal | int]]

    @property
    def total(self):
        return sum((value for _day, value in self.points), 0)

    @property
    def svg(self) -> SafeString:
        return svg_bar_chart(self.points, title=self.title)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _per_day(queryset, field: str, days: list[date], **aggregate) -> dict[date, dict]:
    """One GROUP BY over the ``field`` range (an index range scan): {day: {name: value}}."""
    rows = (
        queryset.filter(**{f"{field}__gte": _start_of(days[0])})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(**aggregate)
        .order_by("day")
    )
    return {row["day"]: row for row in rows}


def _fill(days: list[date], rows: dict[date, dict], name: str, zero=0) -> list[tuple[date, Decimal | int]]:
    return [(day, (rows.get(day) or {}).get(name) or zero) for day in days]


def stats_collect(*, days: int = DAYS, today: date | None = None) -> dict:
    """Everything the stats page shows, in six aggregate queries."""
    today = today or timezone.localdate()
    day_list = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    zero = Decimal("0")

    users_total = User.objects.count()
    users_with_balance = UserBalance.objects.filter(coins__gt=0).count()
    new_users = _per_day(User.objects.all(), "created_at", day_list, n=Count("id"))
    money = _per_day(
        Transaction.objects.filter(
            status=TransactionStatus.COMPLETED,
            type__in=[TransactionType.TOPUP, TransactionType.CHARGE, TransactionType.REFUND],
        ),
        "created_at",
        day_list,
        topups=Sum("amount", filter=Q(type=TransactionType.TOPUP)),
        # Spending is what users were charged, less what was refunded to them.
        charged=Sum("amount", filter=Q(type__in=[TransactionType.CHARGE, TransactionType.REFUND])),
    )
    generations = _per_day(ImageGeneration.objects.all(), "created_at", day_list, n=Count("id"))
    avatars = dict(Avatar.objects.values_list("status").annotate(n=Count("id")).order_by())
    spending = [(day, -value) for day, value in _fill(day_list, money, "charged", zero)]
    series = [
        Series(_("New users per day"), _fill(day_list, new_users, "n")),
        Series(_("Top-ups per day, coins"), _fill(day_list, money, "topups", zero)),
        Series(_("Spending per day, coins"), spending),
        Series(_("Generations per day"), _fill(day_list, generations, "n")),
    ]
    return {
        "users_total": users_total,
        "users_with_balance": users_with_balance,
        "users_without_balance": users_total - users_with_balance,
        "series": series,
        # The same numbers as a table, newest day first: one row per day, one column per series.
        "table": [
            (day, [s.points[index][1] for s in series]) for index, day in reversed(list(enumerate(day_list)))
        ],
        "avatars_by_status": [(label, avatars.get(value, 0)) for value, label in AvatarStatus.choices],
        "days": days,
        "since": day_list[0],
    }


def svg_bar_chart(points: list[tuple[object, Decimal | int]], *, title: str, width: int = 600,
                  height: int = 140) -> SafeString:
    """A bar chart as inline SVG; every bar has a tooltip with its label and value."""
    peak = max((value for _label, value in points), default=0)
    top = max(float(peak), 0) or 1
    gap = 2
    bar_width = max((width - gap * len(points)) / max(len(points), 1), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = max(float(value), 0) / top * (height - 20)
        x = index * (bar_width + gap)
        y = height - bar_height
        bars.append((f"{x:.1f}", f"{y:.1f}", f"{bar_width:.1f}", f"{bar_height:.1f}", _label(label), figure(value)))
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"><title>{}: {}</title></rect>',
        bars,
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="stats-chart" role="img" aria-label="{}" '
        'viewBox="0 0 {} {}" width="100%" height="{}" preserveAspectRatio="none">'
        '<text x="0" y="12" font-size="12" fill="#666">{}</text>{}</svg>',
        title, width, height, height, _("max %(value)s") % {"value": figure(peak)}, body,
    )


def _label(label) -> str:
    return formats.date_format(label, "SHORT_DATE_FORMAT") if isinstance(label, date) else str(label)


# The aggregates over a big ledger take tens of milliseconds each; operators refreshing the page (and several
# of them at once) share one computation per minute and per web process.
STATS_CACHE_SECONDS = 60


def stats_view(request):
    # Revenue figures: only for operators who may read the ledger, not for every staff account.
    if not request.user.has_perm("billing.view_transaction"):
        raise PermissionDenied
    today = timezone.localdate()
    stats = cache.get_or_set(f"admin-stats:{today.isoformat()}", lambda: stats_collect(today=today),
                             STATS_CACHE_SECONDS)
    context = {
        **admin.site.each_context(request),
        "title": _("Statistics"),
        "cache_seconds": STATS_CACHE_SECONDS,
        **stats,
    }
    return TemplateResponse(request, "admin/stats.html", context)
