"""Telegram payments credited with nothing because they do not match their invoice (the currency is not Stars,
or the payload names another payer or another price): the rule, and the record an operator works from (Admin ->
Flagged payments). ``promocodes.services.purchase_complete`` checks each ``successful_payment`` before crediting;
``billing.stars.stars_reconcile`` never credits a flagged payment.
"""

import logging

from django.utils.translation import gettext_noop

from billing.ledger_texts import StoredTexts, describe
from billing.models import FlaggedPayment

logger = logging.getLogger(__name__)

STARS_CURRENCY = "XTR"
# Reasons are stored in English and shown in the operator's language (``reason_display``).
NOT_STARS = gettext_noop("paid in %(currency)s, not XTR")
ANOTHER_PAYER = gettext_noop("the invoice is for Telegram user %(invoiced)s, paid by %(payer)s")
ANOTHER_PRICE = gettext_noop("paid %(paid)s XTR, the invoice's price is %(price)s")
REASONS = StoredTexts((NOT_STARS, ANOTHER_PAYER, ANOTHER_PRICE))


def payment_mismatch(*, payer_telegram_id: int, payload: str, currency: str, total_amount: int) -> str | None:
    """Why a paid invoice must not be credited, or None: the currency is not Stars, or the bot's payload
    (``topup:<telegram id>:<package id>:<stars>:<discount>[:<nonce>]``) names another payer or another price."""
    if currency != STARS_CURRENCY:
        return describe(NOT_STARS, currency=repr(currency))
    parts = (payload or "").split(":")
    if len(parts) in (5, 6) and parts[0] == "topup":
        if parts[1] != str(payer_telegram_id):
            return describe(ANOTHER_PAYER, invoiced=parts[1], payer=payer_telegram_id)
        if parts[3] != str(total_amount):
            return describe(ANOTHER_PRICE, paid=total_amount, price=parts[3])
    return None


def reason_display(reason: str) -> str:
    """A stored reason in the active language."""
    return REASONS.display(reason)


def stars_payment_flag(*, telegram_payment_charge_id: str, payer_telegram_id: int, payload: str, currency: str,
                       total_amount: int, reason: str) -> tuple[FlaggedPayment, bool]:
    """Record, once per charge, a payment credited with nothing for an operator; returns it and whether it is new."""
    flagged, created = FlaggedPayment.objects.get_or_create(
        telegram_payment_charge_id=telegram_payment_charge_id,
        defaults={"payer_telegram_id": payer_telegram_id, "payload": payload or "", "currency": currency[:8],
                  "total_amount": total_amount, "reason": reason[:300]},
    )
    if created:
        logger.warning("Stars payment %s credited with nothing and flagged: %s", telegram_payment_charge_id, reason)
    return flagged, created
