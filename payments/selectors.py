"""Reads of the Stars purchase: the packages and their offers to a user, and a payment's entries in the ledger."""

from dataclasses import dataclass
from decimal import Decimal

from billing.models import Transaction, TransactionType
from payments.exceptions import PackageUnavailable
from payments.keys import bonus_key, charge_id_of, stars_key
from payments.models import TopUpPackage
from promocodes.selectors import PendingPerks, discounted_stars, promo_perks_pending


@dataclass(frozen=True)
class TopUpOffer:
    package: TopUpPackage
    stars: int  # the price the user pays now, after a pending discount
    discount_percent: Decimal | None
    discount_usage_id: str | None
    promo_bonus: Decimal


def topup_package_list_active() -> list[TopUpPackage]:
    return list(TopUpPackage.objects.filter(is_active=True).order_by("sort_order", "stars"))


def topup_package_get_active(*, package_id: int) -> TopUpPackage:
    """A package that may be bought now; ``PackageUnavailable`` when it was switched off or deleted."""
    package = TopUpPackage.objects.filter(pk=package_id, is_active=True).first()
    if package is None:
        raise PackageUnavailable(f"No active top-up package {package_id}.")
    return package


def topup_package_get_paid(*, package_id: int) -> TopUpPackage | None:
    """The package a paid invoice names, active or not (a payment is credited even if it was switched off since);
    None when it was deleted."""
    return TopUpPackage.objects.filter(pk=package_id).first()


def topup_offer_list(*, user) -> list[TopUpOffer]:
    perks = promo_perks_pending(user=user)
    return [_offer(package, perks) for package in topup_package_list_active()]


def topup_offer_get(*, user, package_id: int) -> TopUpOffer:
    return _offer(topup_package_get_active(package_id=package_id), promo_perks_pending(user=user))


def _offer(package: TopUpPackage, perks: PendingPerks) -> TopUpOffer:
    return TopUpOffer(
        package=package,
        stars=discounted_stars(stars=package.stars, percent=perks.discount_percent),
        discount_percent=perks.discount_percent,
        discount_usage_id=perks.discount_usage_id,
        promo_bonus=perks.bonus,
    )


def stars_credit_get(*, charge_id: str) -> Transaction | None:
    """The ledger's credit of the Stars payment ``charge_id``, if it was credited."""
    return Transaction.objects.filter(idempotency_key=stars_key(charge_id), type=TransactionType.TOPUP).first()


def payment_bonus_get(*, entry: Transaction) -> Transaction | None:
    """The promo code bonus credited with this Stars payment, if any."""
    charge_id = charge_id_of(entry)
    if not charge_id:
        return None
    return Transaction.objects.filter(idempotency_key=bonus_key(charge_id), type=TransactionType.BONUS,
                                      user_id=entry.user_id).first()
