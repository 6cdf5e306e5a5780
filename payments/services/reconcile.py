"""Reconciliation of the ledger's Stars credits with Telegram's list of the bot's Stars transactions."""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from accounts.services import user_upsert_from_telegram
from billing import services as billing_services
from billing.exceptions import BillingError
from billing.models import Transaction, TransactionType
from billing.selectors import entries_reversed
from common.alerts import operator_alert
from payments.exceptions import PaymentError
from payments.invoices import STARS_CURRENCY, invoice_parse_or_none
from payments.keys import BONUS_KEY_PREFIX, STARS_KEY_PREFIX, UNKNOWN_FLAG, charge_id_of, charge_id_of_bonus
from payments.models import FlaggedPayment
from payments.services.credit import payment_mismatch, stars_payment_flag, stars_topup_credit
from payments.services.refunds import stars_refund_record
from payments.stars_api import TelegramPayment, telegram_payments


@dataclass
class ReconcileReport:
    telegram_payments: int = 0
    ledger_payments: int = 0
    missing: list[TelegramPayment] = field(default_factory=list)          # Telegram has, the ledger lacks
    credited: list[Transaction] = field(default_factory=list)             # ... and were credited (--fix)
    refunded_never_credited: list[TelegramPayment] = field(default_factory=list)
    unknown: list[Transaction] = field(default_factory=list)              # the ledger has, Telegram does not
    refunds_not_reversed: list[Transaction] = field(default_factory=list)  # refunded on Telegram, credit stands
    reversed: list[Transaction] = field(default_factory=list)             # ... and were reversed (--fix)
    flagged: list[TelegramPayment] = field(default_factory=list)          # not credited: they do not match
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unknown or self.refunds_not_reversed or self.flagged or self.problems)


def _credit_missing(payment: TelegramPayment, *, created_by: str) -> Transaction:
    """Credit what the bot would have: the package's coins when the payload names one, else 1 coin per Star.

    Promo code bonuses and discounts are not replayed: they belong to the purchase flow and stay pending (the
    payment's own ``successful_payment``, if it comes, settles them).
    """
    tg_user = payment.user
    user = User.objects.filter(telegram_id=tg_user["id"]).first() or user_upsert_from_telegram(
        telegram_id=tg_user["id"], first_name=tg_user.get("first_name"), last_name=tg_user.get("last_name"),
        username=tg_user.get("username"), language_code=tg_user.get("language_code"),
        is_premium=tg_user.get("is_premium"), is_bot=tg_user.get("is_bot"))
    return stars_topup_credit(user=user, charge_id=payment.charge_id, payload=payment.payload,
                              invoice=invoice_parse_or_none(payment.payload), stars=payment.stars,
                              telegram_user_id=tg_user["id"], created_by=created_by, reconciled=True)


def stars_reconcile(*, fix: bool = False, created_by: str = "reconcile_stars") -> ReconcileReport:
    """Compare Telegram's Stars payments with the ledger's Stars credits; with ``fix``, repair what is safe.

    Fixes: credit payments the ledger lacks (once, marked ``reconciled``) unless they do not match their invoice
    (flagged for an operator instead), reverse credits of payments Telegram refunded, flag ledger credits
    Telegram does not know (``stars_unknown_to_telegram``) — never delete them.
    """
    report = ReconcileReport()
    payments = telegram_payments()
    report.telegram_payments = len(payments)
    ledger = {charge_id_of(e): e for e in Transaction.objects.filter(
        type=TransactionType.TOPUP, idempotency_key__startswith=STARS_KEY_PREFIX).select_related("user")}
    report.ledger_payments = len(ledger)
    bonuses = {charge_id_of_bonus(e): e for e in Transaction.objects.filter(
        type=TransactionType.BONUS, idempotency_key__startswith=BONUS_KEY_PREFIX)}
    reversed_ids = entries_reversed(entries=[*ledger.values(), *bonuses.values()])

    flagged = set(FlaggedPayment.objects.values_list("telegram_payment_charge_id", flat=True))
    for charge_id, payment in payments.items():
        entry = ledger.get(charge_id)
        if entry is None:
            if payment.refunded:
                report.refunded_never_credited.append(payment)
                continue
            if charge_id in flagged or _flag_mismatch(payment, fix=fix, report=report):
                report.flagged.append(payment)  # an operator decides: never credited here
                continue
            report.missing.append(payment)
            if fix:
                _try(report, f"credit {charge_id}", lambda: report.credited.append(
                    _credit_missing(payment, created_by=created_by)))
        elif payment.refunded and any(e.pk not in reversed_ids for e in (entry, bonuses.get(charge_id)) if e):
            report.refunds_not_reversed.append(entry)
            if fix:
                _try(report, f"reverse {charge_id}", lambda: report.reversed.append(
                    stars_refund_record(telegram_payment_charge_id=charge_id, created_by=created_by)))

    for charge_id, entry in ledger.items():
        flagged = bool((entry.extra_data or {}).get(UNKNOWN_FLAG))
        if charge_id not in payments:
            report.unknown.append(entry)
            if fix and not flagged:
                _note(entry, **{UNKNOWN_FLAG: True})
                operator_alert(key=f"stars-unknown:{charge_id}", text=gettext(
                    "⚠️ Сверка звёзд: зачисление #%(entry)s (платёж %(charge)s) есть в журнале, но Telegram не знает "
                    "такого платежа. Проверьте его в админке.") % {"entry": entry.pk, "charge": charge_id})
        elif fix and flagged:
            # Telegram lists it now (a delay on its side, or a restored test environment): lift the flag.
            _note(entry, **{UNKNOWN_FLAG: False})
    return report


def _note(entry: Transaction, **flags) -> None:
    billing_services.ledger_entry_annotate(entry=entry,
                                           notes={**flags, "stars_checked_at": timezone.now().isoformat()})


def _flag_mismatch(payment: TelegramPayment, *, fix: bool, report: ReconcileReport) -> bool:
    """Whether a payment the ledger lacks does not match its invoice (flagged with ``fix``), as its
    ``successful_payment`` would have found."""
    reason = payment_mismatch(invoice=invoice_parse_or_none(payment.payload), payer_telegram_id=payment.user.get("id"),
                              currency=STARS_CURRENCY, total_amount=payment.stars)
    if reason and fix:
        _try(report, f"flag {payment.charge_id}", lambda: stars_payment_flag(
            telegram_payment_charge_id=payment.charge_id, payer_telegram_id=payment.user.get("id"),
            payload=payment.payload, currency=STARS_CURRENCY, total_amount=payment.stars, reason=reason))
    return reason is not None


def _try(report: ReconcileReport, what: str, action) -> None:
    try:
        action()
    except (BillingError, PaymentError) as error:
        report.problems.append(f"{what}: {error}")
