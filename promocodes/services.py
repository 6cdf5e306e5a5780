"""Writes to promo codes: creating them (operators) and activating them (users)."""

import secrets
from decimal import Decimal

from django.db import IntegrityError, transaction

from promocodes.exceptions import PromoCodeInvalid
from promocodes.models import Promokode, PromokodeType

# No 0/O or 1/I: codes are read off screens and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TERM_FIELDS = (
    "type", "balance_amount", "bonus_amount", "discount_percent", "max_uses", "max_uses_per_user",
    "valid_from", "valid_until", "description", "is_active",
)


def _validate_terms(terms: dict) -> None:
    kind = terms.get("type")
    if kind not in PromokodeType.values:
        raise PromoCodeInvalid(f"Unknown promo code type {kind!r}.")
    required = {PromokodeType.BALANCE: "balance_amount", PromokodeType.BONUS: "bonus_amount",
                PromokodeType.DISCOUNT: "discount_percent"}[kind]
    value = terms.get(required)
    if value is None or Decimal(value) <= 0:
        raise PromoCodeInvalid(f"A {kind} code needs a positive {required}.")
    if kind == PromokodeType.DISCOUNT and Decimal(value) >= 100:
        raise PromoCodeInvalid("A discount must be below 100%.")
    if terms.get("valid_from") and terms.get("valid_until") and terms["valid_from"] >= terms["valid_until"]:
        raise PromoCodeInvalid("valid_from must be before valid_until.")


def promo_code_create(*, code: str, created_by: str = "", **terms) -> Promokode:
    code = (code or "").strip().upper()
    if not code or len(code) > 50 or not code.replace("_", "").replace("-", "").isalnum():
        raise PromoCodeInvalid("A code is 1-50 letters, digits, '-' or '_'.")
    _validate_terms(terms)
    try:
        with transaction.atomic():
            return Promokode.objects.create(code=code, created_by=created_by, **terms)
    except IntegrityError:
        raise PromoCodeInvalid(f"The code {code} already exists.") from None


def promo_code_bulk_generate(
    *, count: int, prefix: str = "", length: int = 8, created_by: str = "", **terms
) -> list[Promokode]:
    """Create ``count`` random codes with the same terms, all or none."""
    if not 1 <= count <= 10_000:
        raise PromoCodeInvalid("Generate between 1 and 10000 codes at once.")
    _validate_terms(terms)
    prefix = (prefix or "").strip().upper()
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
