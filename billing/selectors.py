"""Reads of balances and the ledger."""

from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from billing.models import TopUpPackage, Transaction, TransactionStatus, UserBalance

ZERO = Decimal("0")


def balance_get(*, user) -> Decimal:
    coins = UserBalance.objects.filter(user_id=getattr(user, "pk", user)).values_list("coins", flat=True).first()
    return coins if coins is not None else ZERO


def transaction_list_recent(*, user, limit: int = 5) -> list[Transaction]:
    return list(Transaction.objects.filter(user_id=getattr(user, "pk", user)).order_by("-created_at", "-id")[:limit])


def topup_package_list_active() -> list[TopUpPackage]:
    return list(TopUpPackage.objects.filter(is_active=True).order_by("sort_order", "stars"))


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
