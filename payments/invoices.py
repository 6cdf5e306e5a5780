"""The invoice payload of a Stars top-up: one format, made and parsed here only.

``topup:<telegram id>:<package id>:<stars>:<discount usage id or ->[:<nonce>]``: who may pay, for which package,
at which price, with which discount. Telegram hands it back with the pre-checkout, the payment and in the Stars
transaction list, so everything that judges a payment reads it through ``invoice_parse``.
"""

import secrets
import uuid
from dataclasses import dataclass

from accounts.models import User
from payments.exceptions import InvoiceInvalid
from payments.selectors import TopUpOffer

INVOICE_PREFIX = "topup"
STARS_CURRENCY = "XTR"


@dataclass(frozen=True)
class Invoice:
    """What an invoice payload binds: who may pay, for which package, at which price, with which discount."""

    telegram_user_id: int
    package_id: int
    stars: int
    discount_usage_id: str | None = None
    # Tells apart two invoices of the same package carrying the same discount (their other parts are equal), so
    # the discount can be held for exactly one of them. Only discounted invoices carry one.
    nonce: str | None = None

    def payload(self) -> str:
        usage = uuid.UUID(self.discount_usage_id).hex if self.discount_usage_id else "-"
        parts = [INVOICE_PREFIX, str(self.telegram_user_id), str(self.package_id), str(self.stars), usage]
        return ":".join(parts + ([self.nonce] if self.nonce else []))


def invoice_for_offer(*, user: User, offer: TopUpOffer) -> Invoice:
    return Invoice(telegram_user_id=user.telegram_id, package_id=offer.package.pk, stars=offer.stars,
                   discount_usage_id=offer.discount_usage_id,
                   nonce=secrets.token_hex(4) if offer.discount_usage_id else None)


def invoice_parse(payload: str) -> Invoice:
    """The invoice a payload of this bot binds; ``InvoiceInvalid`` for anything else."""
    try:
        parts = (payload or "").split(":")
        if len(parts) not in (5, 6) or parts[0] != INVOICE_PREFIX:
            raise ValueError(payload)
        _, telegram_user_id, package_id, stars, usage, *rest = parts
        nonce = rest[0] if rest else None
        if nonce is not None and not (nonce.isalnum() and len(nonce) <= 16):
            raise ValueError(nonce)
        return Invoice(telegram_user_id=int(telegram_user_id), package_id=int(package_id), stars=int(stars),
                       discount_usage_id=None if usage == "-" else str(uuid.UUID(usage)), nonce=nonce)
    except ValueError:
        raise InvoiceInvalid(f"Not a top-up invoice payload: {payload!r}.") from None


def invoice_parse_or_none(payload: str) -> Invoice | None:
    """The invoice of a payload, or None when it is not one of this bot's (a payment of something else)."""
    try:
        return invoice_parse(payload)
    except InvoiceInvalid:
        return None
