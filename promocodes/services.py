"""Writes to promo codes: creating them (operators), activating them (users), and using what they grant in a
purchase (a Stars top-up in ``payments``, a generation in ``generations``)."""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from billing import ledger_texts
from billing import services as billing_services
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionType
from promocodes.exceptions import (
    DiscountHeld, DiscountUnavailable, PromoCodeAlreadyUsed, PromoCodeExhausted, PromoCodeExpired, PromoCodeInvalid,
    PromoCodeNotFound, PromoCodeNotStarted,
)
from promocodes.models import AMOUNT_FIELDS, Promokode, PromokodeType, PromokodeUsage
from promocodes.selectors import discount_usable_usages, discounted_coins, pending_usages, promo_code_normalize

# No 0/O or 1/I: codes are read off screens and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TERM_FIELDS = (
    "type", "balance_amount", "bonus_amount", "discount_percent", "max_uses", "max_uses_per_user",
    "valid_from", "valid_until", "description", "is_active",
)


# Latin letters and digits only: a Cyrillic "А", "С" or "О" looks the same on screen, and a user typing the Latin
# one would never match the code.
CODE_RE = re.compile(r"[A-Z0-9]{1,50}")
CYRILLIC_RE = re.compile(r"[\u0400-\u04FF]")


def _label(name: str) -> str:
    return str(Promokode._meta.get_field(name).verbose_name)


def _clean_terms(terms: dict) -> dict:
    """The terms as stored: checked, and without the amounts the type does not use (a balance code keeps no
    discount)."""
    kind = terms.get("type")
    if kind not in PromokodeType.values:
        raise PromoCodeInvalid(gettext("Unknown promo code type %(type)s.") % {"type": repr(kind)}, field="type")
    required = AMOUNT_FIELDS[kind]
    value = terms.get(required)
    if value is None or Decimal(value) <= 0:
        raise PromoCodeInvalid(gettext("This type of code needs a positive “%(field)s”.")
                               % {"field": _label(required)}, field=required)
    if kind == PromokodeType.DISCOUNT and Decimal(value) >= 100:
        raise PromoCodeInvalid(gettext("A discount must be below 100%."), field=required)
    for name in ("max_uses", "max_uses_per_user"):
        if terms.get(name) is not None and terms[name] < 1:
            raise PromoCodeInvalid(gettext("“%(field)s” is at least 1, or empty for no limit.")
                                   % {"field": _label(name)}, field=name)
    if terms.get("valid_from") and terms.get("valid_until") and terms["valid_from"] >= terms["valid_until"]:
        raise PromoCodeInvalid(gettext("“Valid from” must be before “valid until”."), field="valid_until")
    return terms | {name: None for name in AMOUNT_FIELDS.values() if name != required}


def _check_code_chars(text: str, *, field: str, allow_empty: bool = False) -> None:
    if allow_empty and not text:
        return
    if CODE_RE.fullmatch(text):
        return
    if look_alikes := sorted(set(CYRILLIC_RE.findall(text))):
        raise PromoCodeInvalid(gettext("Only Latin letters and digits: %(letters)s are Cyrillic letters (they look "
                                       "like Latin ones). Retype them in the Latin layout.")
                               % {"letters": ", ".join(look_alikes)}, field=field)
    raise PromoCodeInvalid(gettext("A code is 1 to 50 Latin letters (A–Z) and digits, without spaces or other "
                                   "signs."), field=field)


def promo_code_create(*, code: str, created_by: str = "", **terms) -> Promokode:
    """A new code (upper-cased) on checked terms."""
    code = promo_code_normalize(code)
    _check_code_chars(code, field="code")
    terms = _clean_terms(terms)
    try:
        with transaction.atomic():
            return Promokode.objects.create(code=code, created_by=created_by, **terms)
    except IntegrityError:
        raise PromoCodeInvalid(gettext("The code %(code)s already exists.") % {"code": code}, field="code") from None


def promo_code_bulk_generate(
    *, count: int, prefix: str = "", length: int = 8, created_by: str = "", **terms
) -> list[Promokode]:
    """Create ``count`` random codes with the same terms, all or none."""
    if not 1 <= count <= 10_000:
        raise PromoCodeInvalid(gettext("Generate between 1 and 10000 codes at once."), field="count")
    terms = _clean_terms(terms)
    prefix = promo_code_normalize(prefix)
    _check_code_chars(prefix, field="prefix", allow_empty=True)
    codes: set[str] = set()
    with transaction.atomic():
        while len(codes) < count:
            batch = {prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
                     for _ in range(count - len(codes))}
            batch -= set(Promokode.objects.filter(code__in=batch).values_list("code", flat=True))
            codes |= batch
        return Promokode.objects.bulk_create(
            [Promokode(code=code, created_by=created_by, **terms) for code in sorted(codes)]
        )


def promo_code_deactivate(*, promo_ids) -> int:
    """Deactivate codes; returns how many were active."""
    return Promokode.objects.filter(pk__in=list(promo_ids), is_active=True).update(is_active=False)


# --- activation by users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromoActivation:
    promokode: Promokode
    usage: PromokodeUsage
    credit: Transaction | None  # the PROMO ledger entry of a ``balance`` code


def promo_code_activate(*, user: User, code: str) -> PromoActivation:
    """Redeem a code for a user, all or nothing.

    The code's row stays locked from the checks to the commit, so two users racing for its last use cannot
    both win: the counter, the usage row and (for a ``balance`` code) the ledger credit commit together.
    A ``bonus`` or ``discount`` code waits, unconsumed, for the user's next Stars top-up.
    """
    code = promo_code_normalize(code)
    with transaction.atomic():
        promo = Promokode.objects.select_for_update().filter(code=code).first() if code else None
        _check_can_activate(promo, user)
        promo.current_uses += 1
        promo.save(update_fields=["current_uses", "updated_at"])
        now = timezone.now()
        usage = PromokodeUsage.objects.create(
            promokode=promo, user=user, used_at=now,
            bonus_added=promo.bonus_amount if promo.type == PromokodeType.BONUS else None,
        )
        credit = None
        if promo.type == PromokodeType.BALANCE:
            credit = billing_services.balance_credit(
                user=user, amount=promo.balance_amount, type=TransactionType.PROMO,
                description=describe(ledger_texts.PROMO_CODE, code=promo.code), idempotency_key=f"promo:{usage.pk}",
                extra_data={"promokode": promo.code, "promokode_usage_id": str(usage.pk)},
            )
            usage.amount_added = promo.balance_amount
            usage.consumed_at = now
            usage.save(update_fields=["amount_added", "consumed_at"])
    return PromoActivation(promokode=promo, usage=usage, credit=credit)


def _check_can_activate(promo: Promokode | None, user: User) -> None:
    """The checks in the order users are told about them (see upstream-bot.md, promo codes)."""
    if promo is None or not promo.is_active:
        raise PromoCodeNotFound("No such active promo code.")
    now = timezone.now()
    if promo.valid_from and now < promo.valid_from:
        raise PromoCodeNotStarted(valid_from=promo.valid_from)
    if promo.valid_until and now > promo.valid_until:
        raise PromoCodeExpired(f"The code expired at {promo.valid_until}.")
    if promo.max_uses is not None and promo.current_uses >= promo.max_uses:
        raise PromoCodeExhausted(f"All {promo.max_uses} uses are taken.")
    if promo.max_uses_per_user is not None:
        used = PromokodeUsage.objects.filter(promokode=promo, user=user).count()
        if used >= promo.max_uses_per_user:
            raise PromoCodeAlreadyUsed(f"The user has used the code {used} time(s).")


# --- discounts and bonuses used by purchases (payments, generations) -----------------------------------------


@dataclass(frozen=True)
class PendingBonuses:
    amount: Decimal
    usage_ids: list[str]


def _require_atomic(name: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{name} must run inside the purchase's transaction")


@transaction.atomic
def promo_discount_hold(*, user: User, usage_id: str, holder: str, hold_for: timedelta) -> Decimal:
    """Lock the user's unused discount ``usage_id`` and hold it for ``holder`` (a Stars invoice) for ``hold_for``;
    returns its percent.

    While the hold lasts, neither another holder (``DiscountHeld``) nor a coin purchase
    (``discount_consume_for_purchase``) takes the discount; the same holder may hold it again (a retry). Raises
    ``DiscountUnavailable`` when the discount was used already.
    """
    usage = (pending_usages(user=user, type=PromokodeType.DISCOUNT).select_for_update(of=("self",))
             .filter(pk=usage_id).first())
    if usage is None:
        raise DiscountUnavailable(f"The discount {usage_id} was already used.")
    now = timezone.now()
    if usage.reserved_payload not in (None, holder) and usage.reserved_until and usage.reserved_until > now:
        raise DiscountHeld(f"Discount {usage_id} is held by another invoice until {usage.reserved_until}.")
    usage.reserved_payload, usage.reserved_until = holder, now + hold_for
    usage.save(update_fields=["reserved_payload", "reserved_until"])
    return usage.promokode.discount_percent


def promo_discount_consume(*, user: User, usage_id: str, used_for: str) -> bool:
    """Mark the discount ``usage_id`` used by a paid purchase (its hold ends); False when another purchase had
    consumed it already. Call it inside the transaction that credits the purchase."""
    _require_atomic("promo_discount_consume")
    return bool(PromokodeUsage.objects.filter(pk=usage_id, user=user, consumed_at__isnull=True).update(
        consumed_at=timezone.now(), package_used=used_for, reserved_payload=None, reserved_until=None))


def promo_bonuses_consume(*, user: User, used_for: str) -> PendingBonuses | None:
    """Take every bonus code waiting for the user's next top-up: their usages are locked and marked used, and their
    total returned for the caller to credit in the same transaction; None when none waits."""
    _require_atomic("promo_bonuses_consume")
    usages = list(pending_usages(user=user, type=PromokodeType.BONUS).select_for_update(of=("self",)))
    amount = sum((u.bonus_added or u.promokode.bonus_amount or Decimal("0") for u in usages), Decimal("0"))
    if not usages or amount <= 0:
        return None
    PromokodeUsage.objects.filter(pk__in=[u.pk for u in usages]).update(consumed_at=timezone.now(),
                                                                        package_used=used_for)
    return PendingBonuses(amount=amount, usage_ids=[str(u.pk) for u in usages])


def discount_consume_for_purchase(
    *, user, price: Decimal, used_for: str = "",
) -> tuple[Decimal, PromokodeUsage | None]:
    """Apply the user's oldest usable discount to a coin purchase: returns the price to charge and the usage it
    consumed (``None`` and the full price when none waits).

    Call it inside the caller's ``transaction.atomic()`` together with the debit: the usage row stays locked to
    the commit and is consumed only if the purchase commits, so a discount is used at most once, by whichever
    purchase (a Stars package or a generation) comes first. A discount held for a Stars invoice being paid
    (``reserved_until`` in the future) is left to that invoice. The price may come out 0 (a tiny price): the
    caller then charges nothing. A refund of the purchase gives back what was charged, not the discount.
    """
    _require_atomic("discount_consume_for_purchase")
    usage = discount_usable_usages(user=user).select_for_update(of=("self",)).first()
    if usage is None:
        return Decimal(price), None
    usage.consumed_at = timezone.now()
    usage.package_used = (used_for or "coins")[:50]
    usage.reserved_payload = usage.reserved_until = None
    usage.save(update_fields=["consumed_at", "package_used", "reserved_payload", "reserved_until"])
    return discounted_coins(amount=price, percent=usage.promokode.discount_percent), usage
