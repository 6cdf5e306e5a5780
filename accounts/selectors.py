"""Reads of the Telegram users."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet

from accounts.exceptions import UserNotFound
from accounts.models import User, UserActivity
from common.periods import per_day


def user_get_by_telegram_id(*, telegram_id: int) -> User:
    try:
        return User.objects.get(telegram_id=int(telegram_id))
    except (User.DoesNotExist, ValueError, TypeError):
        raise UserNotFound(f"No user with Telegram id {telegram_id}.") from None


def user_find(*, query: str) -> User:
    """Find one user by Telegram id, or by ``@username``/``username`` (case-insensitive)."""
    query = (query or "").strip()
    if query.lstrip("-").isdigit():
        return user_get_by_telegram_id(telegram_id=int(query))
    username = query.lstrip("@")
    user = User.objects.filter(username__iexact=username).first() if username else None
    if user is None:
        raise UserNotFound(f"No user with Telegram id or username {query!r}.")
    return user


def user_search(*, text: str) -> QuerySet[User]:
    """Users whose username or name contains ``text`` (or whose Telegram id is ``text``)."""
    text = (text or "").strip().lstrip("@")
    condition = Q(username__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
    if text.isdigit():
        condition |= Q(telegram_id=int(text))
    return User.objects.filter(condition)


@dataclass(frozen=True)
class ActiveUsers:
    """Distinct users active on the day, in the 7 days and in the 30 days ending with it (days of TIME_ZONE)."""

    day: int
    week: int
    month: int


def user_active_counts(*, day: date) -> ActiveUsers:
    """DAU, WAU and MAU as of ``day``: one aggregate over the last 30 days of activity rows."""
    counts = UserActivity.objects.filter(day__gt=day - timedelta(days=30), day__lte=day).aggregate(
        dau=Count("user", filter=Q(day=day)),
        wau=Count("user", distinct=True, filter=Q(day__gt=day - timedelta(days=7))),
        mau=Count("user", distinct=True),
    )
    return ActiveUsers(day=counts["dau"], week=counts["wau"], month=counts["mau"])


def user_active_per_day(*, since: date, until: date) -> dict[date, int]:
    """Active users of each day from ``since`` to ``until`` (days without any are left out)."""
    rows = (UserActivity.objects.filter(day__gte=since, day__lte=until).values("day").annotate(n=Count("user"))
            .order_by())
    return {row["day"]: row["n"] for row in rows}


def user_joined_per_day(*, since: date, until: date) -> dict[date, int]:
    """New users of each day (by ``created_at`` in TIME_ZONE) from ``since`` to ``until``."""
    rows = per_day(User.objects.all(), since=since, until=until, n=Count("pk"))
    return {day: row["n"] for day, row in rows.items()}


def user_count() -> int:
    return User.objects.count()
