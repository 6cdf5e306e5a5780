"""Crediting a Stars payment, and flagging one that must not be credited. Both the payment's own delivery
(``purchase.purchase_complete``) and the reconciliation (``reconcile.stars_reconcile``) go through here, so a
payment is credited the same way, once, whichever of them comes first.
"""

import logging
from decimal import Decimal

from django.utils.translation import gettext

from accounts.models import User
from billing import ledger_texts
from billing import services as billing_services
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionType
from common.alerts import operator_alert
from payments.flag_reasons import ANOTHER_PAYER, ANOTHER_PRICE, NOT_STARS, reason_display
from payments.invoices import STARS_CURRENCY, Invoice
from payments.keys import stars_key
from payments.models import FlaggedPayment
from payments.selectors import topup_package_get_paid

logger = logging.getLogger(__name__)


def stars_topup_credit(*, user: User, charge_id: str, payload: str, invoice: Invoice | None, stars: int,
                       telegram_user_id: int, created_by: str, reconciled: bool = False) -> Transaction:
    """Credit a Stars payment once (the ledger entry keyed ``stars:<charge id>``): the coins of the package its
    invoice names, or one coin per Star paid when the package was deleted or the payload (``invoice`` None) is not
    one of this bot's.

    ``reconciled``: the reconciliation credits it before (or without) its ``successful_payment``.
    """
    package = topup_package_get_paid(package_id=invoice.package_id) if invoice else None
    if invoice is not None and package is None:
        logger.warning("Paid package %s no longer exists (charge %s): crediting %s coins, one per Star paid",
                       invoice.package_id, charge_id, stars)
    extra_data = {
        "telegram_payment_charge_id": charge_id, "invoice_payload": payload, "stars": stars,
        "package_id": invoice.package_id if invoice else None, "telegram_user_id": telegram_user_id,
    }
    if invoice is not None and package is None:
        extra_data["package_missing"] = True
    if reconciled:
        extra_data["reconciled"] = True
    return billing_services.balance_credit(
        user=user, amount=package.total_credits if package else Decimal(stars), type=TransactionType.TOPUP,
        idempotency_key=stars_key(charge_id), created_by=created_by, extra_data=extra_data,
        description=describe(ledger_texts.STARS_TOPUP_RECONCILED if reconciled else ledger_texts.STARS_TOPUP,
                             package=package.title if package else f"{stars} ⭐"),
    )


def payment_mismatch(*, invoice: Invoice | None, payer_telegram_id: int | None, currency: str,
                     total_amount: int) -> str | None:
    """Why a paid invoice must not be credited, or None: the currency is not Stars, or the invoice (None: the
    payload is not one of this bot's) names another payer or another price. Stored in English, shown translated
    (``payments.flag_reasons``)."""
    if currency != STARS_CURRENCY:
        return describe(NOT_STARS, currency=repr(currency))
    if invoice is not None:
        if invoice.telegram_user_id != payer_telegram_id:
            return describe(ANOTHER_PAYER, invoiced=invoice.telegram_user_id, payer=payer_telegram_id)
        if invoice.stars != total_amount:
            return describe(ANOTHER_PRICE, paid=total_amount, price=invoice.stars)
    return None


def stars_payment_flag(*, telegram_payment_charge_id: str, payer_telegram_id: int, payload: str, currency: str,
                       total_amount: int, reason: str) -> tuple[FlaggedPayment, bool]:
    """Record, once per charge, a payment credited with nothing for an operator (Admin -> Flagged payments);
    returns it and whether it is new."""
    flagged, created = FlaggedPayment.objects.get_or_create(
        telegram_payment_charge_id=telegram_payment_charge_id,
        defaults={"payer_telegram_id": payer_telegram_id, "payload": payload or "", "currency": currency[:8],
                  "total_amount": total_amount, "reason": reason[:300]},
    )
    if created:
        logger.warning("Stars payment %s credited with nothing and flagged: %s", telegram_payment_charge_id, reason)
        operator_alert(key=f"payment-flagged:{telegram_payment_charge_id}", text=gettext(
            "⚠️ Платёж Stars %(charge)s от %(payer)s (%(amount)s %(currency)s) не зачислен и ждёт решения "
            "оператора: %(reason)s. Админка → Платежи на проверке.") % {
            "charge": telegram_payment_charge_id, "payer": payer_telegram_id, "amount": total_amount,
            "currency": currency, "reason": reason_display(reason)})
    return flagged, created
