"""A Stars top-up in the bot: the pre-checkout decision and the successful payment, credited once."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import ledger_texts
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import Transaction, TransactionType
from payments.exceptions import (
    DiscountReserved, InvoiceNotYours, PayerBlocked, PaymentFlagged, PriceChanged,
)
from payments.invoices import STARS_CURRENCY, Invoice, invoice_parse
from payments.keys import SETTLED_NOTE, bonus_key
from payments.selectors import payment_bonus_get, stars_credit_get, topup_package_get_active
from payments.services.credit import payment_mismatch, stars_payment_flag, stars_topup_credit
from promocodes.exceptions import DiscountHeld, DiscountUnavailable
from promocodes.selectors import discounted_stars
from promocodes.services import promo_bonuses_consume, promo_discount_consume, promo_discount_hold

logger = logging.getLogger(__name__)

# How long a pre-checkout holds the invoice's discount for that invoice: Telegram completes an approved payment
# within seconds, so a hold this long only outlives a payment that failed after its pre-checkout.
DISCOUNT_HOLD = timedelta(minutes=10)


def purchase_pre_checkout_check(*, payer_telegram_id: int, payload: str, currency: str, total_amount: int) -> Invoice:
    """Decide a ``pre_checkout_query``: raises a ``PaymentError`` unless this payer may pay this invoice now.

    An invoice with a discount holds it (``promocodes.services.promo_discount_hold``) until its payment consumes
    it or ``DISCOUNT_HOLD`` passes; another invoice carrying the same discount is refused meanwhile
    (``DiscountReserved``). The same invoice may be pre-checked again (a retry).
    """
    invoice = invoice_parse(payload)
    if invoice.telegram_user_id != payer_telegram_id:
        raise InvoiceNotYours(f"Invoice for {invoice.telegram_user_id}, paid by {payer_telegram_id}.")
    user = User.objects.filter(telegram_id=payer_telegram_id).first()
    if user is None:
        raise InvoiceNotYours(f"No user {payer_telegram_id}.")
    if user.is_blocked:
        raise PayerBlocked(f"User {payer_telegram_id} is blocked.")
    package = topup_package_get_active(package_id=invoice.package_id)
    with transaction.atomic():  # a refusal below also undoes the hold taken here
        percent = None
        if invoice.discount_usage_id:
            percent = _discount_hold(user=user, usage_id=invoice.discount_usage_id, payload=payload)
        price = discounted_stars(stars=package.stars, percent=percent)
        if currency != STARS_CURRENCY or total_amount != invoice.stars or price != invoice.stars:
            raise PriceChanged(
                f"Invoice says {invoice.stars} {currency} ({total_amount}), the offer is now {price} XTR.")
    return invoice


def _discount_hold(*, user: User, usage_id: str, payload: str) -> Decimal:
    try:
        return promo_discount_hold(user=user, usage_id=usage_id, holder=payload, hold_for=DISCOUNT_HOLD)
    except DiscountHeld as error:
        raise DiscountReserved(str(error)) from None
    except DiscountUnavailable:
        raise PriceChanged("The discount of this invoice was already used.") from None


@dataclass(frozen=True)
class PurchaseResult:
    topup: Transaction
    bonus: Transaction | None
    balance: Decimal
    duplicate: bool  # the same payment was delivered before: nothing was credited this time
    # The reconciliation had credited the payment before its delivery; this delivery settled its promo codes.
    settled_late: bool = False


def purchase_complete(
    *, payer_telegram_id: int, payload: str, total_amount: int, telegram_payment_charge_id: str,
    currency: str = STARS_CURRENCY,
) -> PurchaseResult:
    """Credit a ``successful_payment`` once: the package's coins (TOPUP), pending promo bonuses (BONUS), and mark
    the discount and bonuses used, all in one transaction keyed by ``telegram_payment_charge_id``.

    A payment that does not match its invoice (not paid in Stars, another price, another payer) is credited with
    nothing: it is flagged for an operator (``credit.stars_payment_flag``) and ``PaymentFlagged`` raised.
    Otherwise it is never refused: Telegram has taken the Stars. A package deleted since the invoice is credited 1
    coin per Star paid; a discount already consumed by another payment is logged, and this payment credited all
    the same.
    """
    charge_id = telegram_payment_charge_id
    invoice = invoice_parse(payload)
    reason = payment_mismatch(invoice=invoice, payer_telegram_id=payer_telegram_id, currency=currency,
                              total_amount=total_amount)
    if reason and stars_credit_get(charge_id=charge_id) is None:  # else: credited before, a repeat
        _flagged, first = stars_payment_flag(
            telegram_payment_charge_id=charge_id, payer_telegram_id=payer_telegram_id, payload=payload,
            currency=currency, total_amount=total_amount, reason=reason)
        raise PaymentFlagged(reason, first=first)
    with transaction.atomic():
        # One purchase of a user at a time: a second delivery waits here, then finds the first one's entry.
        payer = User.objects.select_for_update().get(telegram_id=payer_telegram_id)
        existing = stars_credit_get(charge_id=charge_id)
        if existing is not None:
            return _purchase_already_credited(existing, payer=payer, invoice=invoice, charge_id=charge_id)
        topup = stars_topup_credit(user=payer, charge_id=charge_id, payload=payload, invoice=invoice,
                                   stars=total_amount, telegram_user_id=payer_telegram_id, created_by="telegram")
        bonus = _purchase_settle_promos(payer, invoice=invoice, charge_id=charge_id, topup=topup)
    return PurchaseResult(topup=topup, bonus=bonus, balance=(bonus or topup).balance_after, duplicate=False)


def _purchase_already_credited(existing: Transaction, *, payer: User, invoice: Invoice,
                               charge_id: str) -> PurchaseResult:
    """A second delivery credits nothing. But when the reconciliation credited the payment first, its promo codes
    were not applied: apply them now, once, and let the bot confirm the payment."""
    data = existing.extra_data or {}
    if existing.user_id == payer.pk and data.get("reconciled") and not data.get(SETTLED_NOTE):
        bonus = _purchase_settle_promos(payer, invoice=invoice, charge_id=charge_id, topup=existing)
        return PurchaseResult(topup=existing, bonus=bonus, balance=billing_selectors.balance_get(user=payer),
                              duplicate=False, settled_late=True)
    return PurchaseResult(topup=existing, bonus=payment_bonus_get(entry=existing),
                          balance=billing_selectors.balance_get(user=payer), duplicate=True)


def _purchase_settle_promos(payer: User, *, invoice: Invoice, charge_id: str,
                            topup: Transaction) -> Transaction | None:
    """Consume the invoice's discount and credit the pending bonuses of a credited payment (idempotent)."""
    package_used = str(invoice.package_id)
    if invoice.discount_usage_id and not promo_discount_consume(
            user=payer, usage_id=invoice.discount_usage_id, used_for=package_used):
        # Telegram took the discounted price already; the payment stands, the operator may look into it.
        logger.warning("Payment %s used discount %s that another payment had consumed; credited anyway",
                       topup.idempotency_key, invoice.discount_usage_id)
    bonus = _credit_pending_bonuses(payer, charge_id=charge_id, package_used=package_used, topup=topup)
    if (topup.extra_data or {}).get("reconciled"):
        billing_services.ledger_entry_annotate(entry=topup, notes={SETTLED_NOTE: timezone.now().isoformat()})
    return bonus


def _credit_pending_bonuses(payer: User, *, charge_id: str, package_used: str,
                            topup: Transaction) -> Transaction | None:
    if (done := payment_bonus_get(entry=topup)) is not None:
        return done  # this payment's bonus is in already: later activations wait for the next payment
    bonuses = promo_bonuses_consume(user=payer, used_for=package_used)
    if bonuses is None:
        return None
    return billing_services.balance_credit(
        user=payer, amount=bonuses.amount, type=TransactionType.BONUS, idempotency_key=bonus_key(charge_id),
        created_by="telegram", description=ledger_texts.PROMO_CODE_BONUS,
        extra_data={"promokode_usage_ids": bonuses.usage_ids, "package_id": int(package_used)},
    )
