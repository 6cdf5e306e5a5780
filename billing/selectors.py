"""Reads of balances and the ledger."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_search
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance

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


TOPUP_TYPES = (TransactionType.TOPUP, TransactionType.ADMIN_TOPUP)


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
    """Totals over every user and the top-ups of today and the last 30 days: two aggregate queries."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    month_ago = now - timedelta(days=30)
    users = User.objects.aggregate(
        users_total=Count("pk"),
        users_with_balance=Count("pk", filter=Q(balance__coins__gt=0)),
        balance_sum=Coalesce(Sum("balance__coins"), Value(ZERO)),
    )
    topups = Transaction.objects.filter(
        type__in=TOPUP_TYPES, status=TransactionStatus.COMPLETED, amount__gt=0, created_at__gte=month_ago
    ).aggregate(
        topups_today_count=Count("pk", filter=Q(created_at__gte=today)),
        topups_today_sum=Coalesce(Sum("amount", filter=Q(created_at__gte=today)), Value(ZERO)),
        topups_30d_count=Count("pk"),
        topups_30d_sum=Coalesce(Sum("amount"), Value(ZERO)),
    )
    return {**users, "users_without_balance": users["users_total"] - users["users_with_balance"], **topups}


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
