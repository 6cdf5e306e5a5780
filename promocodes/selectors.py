"""Reads of promo codes and of what they change in a purchase (pending bonuses, discounted prices)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.exceptions import PackageNotFound
from billing.models import TopUpPackage
from promocodes.models import PromokodeType, PromokodeUsage

ZERO = Decimal("0")


@dataclass(frozen=True)
class PendingPerks:
    """Activated codes waiting for the user's next top-up."""

    bonus: Decimal
    discount_percent: Decimal | None
    discount_usage_id: str | None


@dataclass(frozen=True)
class TopUpOffer:
    package: TopUpPackage
    stars: int  # the price the user pays now, after a pending discount
    discount_percent: Decimal | None
    discount_usage_id: str | None
    promo_bonus: Decimal


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


def topup_offer_list(*, user) -> list[TopUpOffer]:
    perks = promo_perks_pending(user=user)
    packages = TopUpPackage.objects.filter(is_active=True).order_by("sort_order", "stars")
    return [_offer(package, perks) for package in packages]


def topup_offer_get(*, user, package_id: int) -> TopUpOffer:
    package = TopUpPackage.objects.filter(pk=package_id, is_active=True).first()
    if package is None:
        raise PackageNotFound(f"No active top-up package {package_id}.")
    return _offer(package, promo_perks_pending(user=user))


def _offer(package: TopUpPackage, perks: PendingPerks) -> TopUpOffer:
    return TopUpOffer(
        package=package,
        stars=discounted_stars(stars=package.stars, percent=perks.discount_percent),
        discount_percent=perks.discount_percent,
        discount_usage_id=perks.discount_usage_id,
        promo_bonus=perks.bonus,
    )
