"""Reads of the Stars purchase: the packages and their offers to a user, and a payment's entries in the ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from billing.models import Transaction, TransactionStatus, TransactionType
from common.periods import day_range, per_day
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


@dataclass(frozen=True)
class Payers:
    """Users who paid in Telegram Stars at least once: ever, and within a period."""

    ever: int
    in_period: int


def _stars_credits():
    return Transaction.objects.filter(type=TransactionType.TOPUP, status=TransactionStatus.COMPLETED, amount__gt=0)


def stars_revenue_per_day(*, since: date, until: date) -> dict[date, int]:
    """Telegram Stars (XTR) paid each day ``since`` .. ``until``, by the day of the payment (refunds not
    subtracted), read from the Stars noted on each credit: one query."""
    stars = Cast(KeyTextTransform("stars", "extra_data"), IntegerField())
    rows = per_day(_stars_credits(), since=since, until=until, stars=Sum(stars))
    return {day: row["stars"] or 0 for day, row in rows.items()}


def stars_payer_counts(*, since: date, until: date) -> Payers:
    """Distinct Stars payers, ever and in ``since`` .. ``until``: one aggregate query."""
    bounds = day_range(since=since, until=until)
    in_period = Q(created_at__gte=bounds["gte"], created_at__lt=bounds["lt"])
    counts = _stars_credits().aggregate(
        ever=Count("user", distinct=True), in_period=Count("user", distinct=True, filter=in_period)
    )
    return Payers(**counts)
