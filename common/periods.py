"""Per-day figures for the back office: days are days of the configured ``TIME_ZONE`` (timestamps are stored in
UTC), and a day range is read as one index range scan over a timestamp column grouped by its local date."""

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_range(*, since: date, until: date) -> dict[str, datetime]:
    """Lookups for a timestamp within ``since`` .. ``until`` (both days included)."""
    return {"gte": day_start(since), "lt": day_start(until + timedelta(days=1))}


def per_day(queryset: QuerySet, *, since: date, until: date, field: str = "created_at",
            **aggregates) -> dict[date, dict]:
    """One GROUP BY over the local date of ``field`` within ``since`` .. ``until``: ``{day: {name: value}}``."""
    bounds = {f"{field}__{lookup}": value for lookup, value in day_range(since=since, until=until).items()}
    rows = (
        queryset.filter(**bounds)
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(**aggregates)
        .order_by("day")
    )
    return {row.pop("day"): row for row in rows}
