"""Reads of promo codes and of what they change in a purchase (pending bonuses, discounted prices)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import timezone

from promocodes.models import PromokodeType, PromokodeUsage

ZERO = Decimal("0")


@dataclass(frozen=True)
class PendingPerks:
    """Activated codes waiting for the user's next top-up."""

    bonus: Decimal
    discount_percent: Decimal | None
    discount_usage_id: str | None


def promo_code_normalize(code: str) -> str:
    return (code or "").strip().upper()


def discounted_stars(*, stars: int, percent: Decimal | None) -> int:
    """Whole Stars after a discount, rounded half up, never below one Star."""
    if not percent:
        return stars
    price = (Decimal(stars) * (100 - Decimal(percent)) / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return max(int(price), 1)


def pending_usages(*, user, type: str):
    """The user's activations of ``type`` not yet used by a purchase, oldest first."""
    return PromokodeUsage.objects.filter(
        user_id=getattr(user, "pk", user), promokode__type=type, consumed_at__isnull=True,
    ).select_related("promokode").order_by("used_at", "id")


def promo_perks_pending(*, user) -> PendingPerks:
    bonus = sum((u.bonus_added or u.promokode.bonus_amount or ZERO
                 for u in pending_usages(user=user, type=PromokodeType.BONUS)), ZERO)
    discount = pending_usages(user=user, type=PromokodeType.DISCOUNT).first()
    return PendingPerks(
        bonus=bonus,
        discount_percent=discount.promokode.discount_percent if discount else None,
        discount_usage_id=str(discount.pk) if discount else None,
    )


# --- discounts on coin purchases (generations) ---------------------------------------------------------------

CENT = Decimal("0.01")


@dataclass(frozen=True)
class DiscountedPrice:
    price: Decimal  # what the user pays now
    full_price: Decimal
    discount_percent: Decimal | None  # None: no discount is waiting for this purchase


def discounted_coins(*, amount: Decimal, percent: Decimal | None) -> Decimal:
    """Coins after a discount, rounded half up to the cent (may be 0 for a tiny price)."""
    amount = Decimal(amount)
    if not percent:
        return amount
    return (amount * (100 - Decimal(percent)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def discount_usable_usages(*, user, now=None):
    """The user's pending discounts a coin purchase may take: not held for a Stars invoice being paid (a
    pre-checkout's hold, ``reserved_until`` in the future), oldest first."""
    now = now or timezone.now()
    return pending_usages(user=user, type=PromokodeType.DISCOUNT).filter(
        Q(reserved_until__isnull=True) | Q(reserved_until__lte=now))


def discount_price_get(*, user, price: Decimal) -> DiscountedPrice:
    """The price of a coin purchase (a generation) after the discount it would use now, if any."""
    usage = discount_usable_usages(user=user).first()
    percent = usage.promokode.discount_percent if usage else None
    return DiscountedPrice(price=discounted_coins(amount=price, percent=percent), full_price=Decimal(price),
                           discount_percent=percent)
