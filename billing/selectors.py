"""Reads of balances and the ledger."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_search
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance
from billing.topups import OPERATOR, STARS, TOPUP_TYPES, TopUps
from common.periods import day_range, day_start, per_day

ZERO = Decimal("0")


def balance_get(*, user) -> Decimal:
    coins = UserBalance.objects.filter(user_id=getattr(user, "pk", user)).values_list("coins", flat=True).first()
    return coins if coins is not None else ZERO


def transaction_list_recent(*, user, limit: int = 5) -> list[Transaction]:
    return list(Transaction.objects.filter(user_id=getattr(user, "pk", user)).order_by("-created_at", "-id")[:limit])


def ledger_mismatches() -> QuerySet[User]:
    """Users whose balance differs from the sum of their completed ledger entries (should be none)."""
    money = DecimalField(max_digits=20, decimal_places=2)
    ledger_sum = (
        Transaction.objects.filter(user_id=OuterRef("pk"), status=TransactionStatus.COMPLETED)
        .values("user_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        User.objects.annotate(
            balance_coins=Coalesce(F("balance__coins"), Value(ZERO), output_field=money),
            ledger_total=Coalesce(Subquery(ledger_sum, output_field=money), Value(ZERO), output_field=money),
        )
        .exclude(balance_coins=F("ledger_total"))
        .order_by("telegram_id")
    )


def balance_list(*, search: str | None = None, limit: int | None = None, offset: int = 0) -> QuerySet[User]:
    """Users with their balance (``coins``), biggest first; lazy, so callers can stream it with ``iterator()``."""
    money = DecimalField(max_digits=20, decimal_places=2)
    users = user_search(text=search) if search else User.objects.all()
    users = users.annotate(coins=Coalesce(F("balance__coins"), Value(ZERO), output_field=money)).order_by(
        F("coins").desc(), "telegram_id"
    )
    end = offset + limit if limit is not None else None
    return users[offset:end]


def balance_stats(*, now: datetime | None = None) -> dict:
    """Totals over every user (one aggregate query) and the top-ups of today and of the last 30 days (one more)."""
    day = timezone.localdate(now or timezone.now())
    today = day_start(day)
    users = balance_user_totals()
    # The last 30 days are the stats page's: today and the 29 days before it, days of TIME_ZONE.
    topups = _topups().filter(created_at__gte=day_start(day - timedelta(days=29))).aggregate(
        **_topup_sums("today", Q(created_at__gte=today)), **_topup_sums("month", Q()),
    )
    return {
        **users, "topups_today": _topups_of(topups, "today"), "topups_30d": _topups_of(topups, "month"),
    }


def balance_user_totals() -> dict:
    """Users, those with a positive balance and those without, and the sum of balances: one aggregate query."""
    users = User.objects.aggregate(
        users_total=Count("pk"),
        users_with_balance=Count("pk", filter=Q(balance__coins__gt=0)),
        balance_sum=Coalesce(Sum("balance__coins"), Value(ZERO)),
    )
    return {**users, "users_without_balance": users["users_total"] - users["users_with_balance"]}


def topup_totals(*, since: date, until: date) -> TopUps:
    """Top-ups of the days ``since`` .. ``until`` (of TIME_ZONE), by kind: one aggregate query."""
    bounds = {f"created_at__{lookup}": value for lookup, value in day_range(since=since, until=until).items()}
    return _topups_of(_topups().filter(**bounds).aggregate(**_topup_sums("all", Q())), "all")


def topup_per_day(*, since: date, until: date) -> dict[date, TopUps]:
    """Top-ups of each day ``since`` .. ``until`` by kind (days without any are left out): one query."""
    rows = per_day(_topups(), since=since, until=until, **_topup_sums("day", Q()))
    return {day: _topups_of(row, "day") for day, row in rows.items()}


def spending_per_day(*, since: date, until: date) -> dict[date, Decimal]:
    """Coins users spent each day: what they were charged less what was refunded to them (positive)."""
    spent = Transaction.objects.filter(
        status=TransactionStatus.COMPLETED, type__in=[TransactionType.CHARGE, TransactionType.REFUND]
    )
    rows = per_day(spent, since=since, until=until, coins=Sum("amount"))
    return {day: -(row["coins"] or ZERO) for day, row in rows.items()}


def _topups():
    return Transaction.objects.filter(type__in=TOPUP_TYPES, status=TransactionStatus.COMPLETED, amount__gt=0)


def _topup_sums(prefix: str, condition: Q) -> dict:
    sums = {}
    for kind, type_ in (("stars", STARS), ("operator", OPERATOR)):
        of_kind = condition & Q(type=type_)
        sums[f"{prefix}_{kind}"] = Coalesce(Sum("amount", filter=of_kind), Value(ZERO))
        sums[f"{prefix}_{kind}_count"] = Count("pk", filter=of_kind)
    return sums


def _topups_of(row: dict, prefix: str) -> TopUps:
    return TopUps(**{name: row[f"{prefix}_{name}"] for name in ("stars", "stars_count", "operator", "operator_count")})


def transaction_get_for_user(*, user, entry_id: int) -> Transaction | None:
    """One ledger entry of this user; None for another user's entry (never revealed) or a missing one."""
    return Transaction.objects.filter(user_id=getattr(user, "pk", user), pk=entry_id).first()


def reversal_chain_end(*, entry) -> tuple[Transaction, int]:
    """The last entry of ``entry``'s reversal chain and its length: entry <- reversal <- its undo <- a new
    reversal ... (each link is an entry's one reversal, ``refund_of``). An odd length means a reversal stands."""
    node, depth = entry, 0
    while (following := Transaction.objects.filter(refund_of_id=getattr(node, "pk", node)).first()) is not None:
        node, depth = following, depth + 1
    return node, depth


def reversal_live(*, entry) -> Transaction | None:
    """The reversal that stands for ``entry``; None when it was never reversed or its reversal was undone."""
    node, depth = reversal_chain_end(entry=entry)
    return node if depth % 2 else None


def entries_reversed(*, entries) -> set[int]:
    """The ids of those ``entries`` for which a reversal stands (see ``reversal_live``); one query per link."""
    origin_of = {getattr(e, "pk", e): getattr(e, "pk", e) for e in entries}  # chain end -> the entry it starts at
    standing, depth = set(), 0
    while origin_of:
        links = Transaction.objects.filter(refund_of_id__in=list(origin_of)).values_list("refund_of_id", "pk")
        origin_of = {pk: origin_of[previous] for previous, pk in links}
        depth += 1
        for origin in origin_of.values():
            (standing.add if depth % 2 else standing.discard)(origin)
    return standing
