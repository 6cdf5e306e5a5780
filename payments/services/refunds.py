"""Refunds of Stars payments: an operator's (the admin's button) and the ones Telegram reports (``refunded_payment``).

A refund reverses the payment's ``TOPUP`` entry and its promo code ``BONUS`` entry (``payments.keys``), at most once
each and together (``balance_reverse_payment``, ``balance_reverse_bonus``), so the ledger still equals the
balance. The promo code usage behind the bonus stays consumed: a refunded purchase does not give the code back (the
user could otherwise redeem it again on the next purchase). When the user has already spent the coins, the ledger
cannot take them back without going negative, so:
- a refund asked for by an operator takes the coins back *first*, under the balance lock, and only then asks
  Telegram: refused (``InsufficientFunds``) before Telegram is asked when they were spent, and nothing to spend
  while Telegram is being asked. If Telegram refuses, the coins are given back (the reversal's one undo);
- a refund Telegram already made (``refunded_payment``, or one found by reconciliation) whose coins were spent is
  recorded on the entry as ``stars_refund_unreversed`` for the operator to settle, never pushed below zero.
"""

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import ledger_texts
from billing import services as billing_services
from billing.exceptions import InsufficientFunds
from billing.formats import money
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionType
from billing.selectors import entries_reversed, reversal_live
from payments.exceptions import NotAStarsPayment, RefundNotReversed, RefundUnconfirmed, StarsAPIError
from payments.keys import PENDING_FLAG, UNREVERSED_FLAG, charge_id_of
from payments.selectors import payment_bonus_get, stars_credit_get
from payments.stars_api import refund_refused, refund_star_payment

logger = logging.getLogger(__name__)


def _stars_entry(entry: Transaction | int) -> Transaction:
    entry = entry if isinstance(entry, Transaction) else Transaction.objects.select_related("user").get(pk=entry)
    if entry.type != TransactionType.TOPUP or not charge_id_of(entry):
        raise NotAStarsPayment(f"Entry #{entry.pk} is not a Telegram Stars payment.")
    return entry


def _flag(entry: Transaction, **flags) -> None:
    """Note something for the operator on a ledger entry (amounts never change)."""
    billing_services.ledger_entry_annotate(entry=entry, notes=flags)


def _owed(entry: Transaction, bonus: Transaction | None) -> Decimal:
    """The coins a refund of ``entry`` still has to take back: the payment's and its bonus's, unless reversed."""
    credits = [e for e in (entry, bonus) if e is not None]
    reversed_ids = entries_reversed(entries=credits)
    return sum((e.amount for e in credits if e.pk not in reversed_ids), Decimal("0"))


def _reverse_together(entry: Transaction, *, created_by: str, description: str) -> Transaction:
    """Reverse the payment and its promo bonus together (each at most once), or neither (``InsufficientFunds``)."""
    bonus = payment_bonus_get(entry=entry)
    with transaction.atomic():
        reversal = billing_services.balance_reverse_payment(entry=entry, description=description,
                                                            created_by=created_by)
        if bonus is not None:
            billing_services.balance_reverse_bonus(
                entry=bonus, description=describe(ledger_texts.PROMO_BONUS_REVERSAL, description=description),
                created_by=created_by)
    return reversal


def _reverse_or_flag(entry: Transaction, *, created_by: str, description: str) -> Transaction:
    """Reverse the payment and its promo bonus together, or neither and flag the entry."""
    owed = _owed(entry, payment_bonus_get(entry=entry))
    try:
        return _reverse_together(entry, created_by=created_by, description=description)
    except InsufficientFunds as error:
        _flag(entry, **{UNREVERSED_FLAG: True, "stars_refunded_at": timezone.now().isoformat()})
        logger.warning("Stars payment %s refunded but its coins were spent; entry #%s flagged",
                       charge_id_of(entry), entry.pk)
        raise RefundNotReversed(
            _("Telegram refunded entry #%(entry)s, but the user has only %(balance)s of the %(owed)s coins it and its "
              "promo bonus credited: the entry is flagged for an operator's decision.")
            % {"entry": entry.pk, "balance": money(error.balance), "owed": money(owed)}) from None


def stars_payment_refund(*, entry: Transaction | int, created_by: str) -> Transaction:
    """Refund a Stars payment: take its coins back, then have Telegram refund the Stars; once.

    The payment's coins and its promo bonus's are taken back first, together, under the balance lock: refused
    (``InsufficientFunds``) before Telegram is asked when the user no longer has them. Then Telegram is asked;
    its ``CHARGE_ALREADY_REFUNDED`` counts as success. When Telegram refuses, the coins are given back (once) and
    its error raised; when it gives no usable answer, they stay taken and ``RefundUnconfirmed`` is raised: the
    entry stays pending and the next call asks Telegram again. A call after a confirmed refund returns the first
    reversal (taking back a bonus an earlier refund left, without asking Telegram again).
    """
    entry = _stars_entry(entry)
    if not settings.BOT_TOKEN:
        raise StarsAPIError("refundStarPayment: BOT_TOKEN is not set")  # Telegram cannot be asked: take nothing
    description = describe(ledger_texts.STARS_REFUND, entry=entry.pk, author=created_by)
    if (reversal := reversal_live(entry=entry)) is not None:
        if (entry.extra_data or {}).get(PENDING_FLAG):
            return _ask_telegram(entry, reversal, created_by=created_by)
        if _owed(entry, payment_bonus_get(entry=entry)):
            return _reverse_or_flag(entry, created_by=created_by, description=description)
        return reversal
    with transaction.atomic():
        reversal = _reverse_together(entry, created_by=created_by, description=description)
        _flag(entry, **{PENDING_FLAG: True})
    return _ask_telegram(entry, reversal, created_by=created_by)


def _ask_telegram(entry: Transaction, reversal: Transaction, *, created_by: str) -> Transaction:
    telegram_user_id = (entry.extra_data or {}).get("telegram_user_id") or entry.user.telegram_id
    try:
        refund_star_payment(user_id=telegram_user_id, telegram_payment_charge_id=charge_id_of(entry))
    except StarsAPIError as error:
        if not refund_refused(error):
            logger.warning("Stars refund of entry #%s unconfirmed (%s): coins stay taken, refund pending",
                           entry.pk, error)
            raise RefundUnconfirmed(f"Telegram did not confirm the refund ({error.description}); the coins stay "
                                    "taken back until it does: refund again.", error_code=error.error_code) from None
        with transaction.atomic():
            for credit in (entry, payment_bonus_get(entry=entry)):
                if credit is not None and (taken := reversal_live(entry=credit)) is not None:
                    billing_services.balance_reversal_undo(
                        entry=taken, created_by=created_by,
                        description=describe(ledger_texts.STARS_REFUND_REFUSED, entry=entry.pk))
            _flag(entry, **{PENDING_FLAG: False})
        raise
    _flag(entry, **{PENDING_FLAG: False})
    return reversal


def stars_refund_record(*, telegram_payment_charge_id: str, created_by: str = "telegram") -> Transaction | None:
    """Telegram says this payment was refunded (``refunded_payment``): reverse its credit and its promo bonus
    exactly once.

    Returns the reversal, or None when the ledger has no such payment (logged). Raises ``RefundNotReversed`` when
    the coins were spent (the entry is flagged).
    """
    entry = stars_credit_get(charge_id=telegram_payment_charge_id)
    if entry is None:
        logger.warning("Refund of unknown Stars payment %s: nothing to reverse", telegram_payment_charge_id)
        return None
    reversal = _reverse_or_flag(entry, created_by=created_by, description=ledger_texts.STARS_REFUND_OUTSIDE)
    if (entry.extra_data or {}).get(PENDING_FLAG):
        _flag(entry, **{PENDING_FLAG: False})  # Telegram confirms the refund an operator's call left pending
    return reversal
