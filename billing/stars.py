"""Telegram Stars money end to end: a small Bot API client (``refundStarPayment``, ``getStarTransactions``) and
the services that refund a payment, record a refund made outside the bot, and reconcile the ledger with Telegram.

Plain synchronous HTTP through ``accounts.telegram``: billing imports neither aiogram nor botworker.

A Stars top-up is a ``TOPUP`` ledger entry keyed ``stars:<telegram_payment_charge_id>``, plus a ``BONUS`` entry
keyed ``promo-bonus:<telegram_payment_charge_id>`` when a promo code bonus came with it. A refund reverses both, at
most once each and together (``balance_reverse_payment``, ``balance_reverse_bonus``), so the ledger still equals
the balance. The promo code usage behind the bonus stays consumed: a refunded purchase does not give the code back
(the user could otherwise redeem it again on the next purchase). When the user has already spent the coins, the
ledger cannot take them back without going negative, so:
- a refund asked for by an operator takes the coins back *first*, under the balance lock, and only then asks
  Telegram: refused (``InsufficientFunds``) before Telegram is asked when they were spent, and nothing to spend
  while Telegram is being asked. If Telegram refuses, the coins are given back (the reversal's one undo);
- a refund Telegram already made (``refunded_payment``, or one found by reconciliation) whose coins were spent is
  recorded on the entry as ``stars_refund_unreversed`` for the operator to settle, never pushed below zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import telegram
from accounts.models import User
from accounts.services import user_upsert_from_telegram
from billing import ledger_texts, services
from billing.exceptions import BillingError, InsufficientFunds, NotRefundable
from billing.flagged import STARS_CURRENCY, payment_mismatch, stars_payment_flag
from billing.formats import money
from billing.ledger_texts import describe
from billing.models import FlaggedPayment, TopUpPackage, Transaction, TransactionType
from billing.selectors import entries_reversed, reversal_live

logger = logging.getLogger(__name__)

KEY_PREFIX = "stars:"
BONUS_KEY_PREFIX = "promo-bonus:"  # promocodes.services keys a payment's promo code bonus so
PAGE_SIZE = 100  # getStarTransactions allows at most 100 per call
TIMEOUT = 15
ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
UNREVERSED_FLAG = "stars_refund_unreversed"
UNKNOWN_FLAG = "stars_unknown_to_telegram"
# Set with the reversal of an operator's refund, cleared once Telegram has answered: while it is set the coins are
# taken back but Telegram has not confirmed the refund (no answer yet, or none that could be trusted).
PENDING_FLAG = "stars_refund_pending"


class StarsAPIError(BillingError):
    """The Bot API refused a Stars call or could not be reached."""

    def __init__(self, description: str, *, error_code: int | None = None):
        self.description, self.error_code = description, error_code
        super().__init__(f"Bot API error{f' {error_code}' if error_code else ''}: {description}")


class RefundNotReversed(BillingError):
    """Telegram refunded the payment but the coins were already spent: the entry is flagged for the operator."""


class RefundUnconfirmed(StarsAPIError):
    """Telegram could not be asked or gave no usable answer (unreachable, 429, 5xx): it may have refunded. The coins
    stay taken back and the entry pending; asking again settles it."""


# --- the Bot API client -----------------------------------------------------------------------------------------
def bot_api_call(method: str, **params) -> Any:
    """POST one Bot API method; returns ``result`` or raises ``StarsAPIError``."""
    try:
        return telegram.call(method, params=params, timeout=TIMEOUT)
    except telegram.BotAPIError as error:
        raise StarsAPIError(f"{method}: {error.description}" if error.error_code is None else error.description,
                            error_code=error.error_code) from None


def refund_star_payment(*, user_id: int, telegram_payment_charge_id: str) -> None:
    """Ask Telegram to refund; a payment already refunded counts as refunded."""
    try:
        bot_api_call("refundStarPayment", user_id=int(user_id), telegram_payment_charge_id=telegram_payment_charge_id)
    except StarsAPIError as error:
        if ALREADY_REFUNDED not in (error.description or "").upper():
            raise


def star_transactions() -> Iterator[dict]:
    """Every Stars transaction of the bot, oldest first, page by page."""
    offset = 0
    while True:
        page = (bot_api_call("getStarTransactions", offset=offset, limit=PAGE_SIZE) or {}).get("transactions") or []
        yield from page
        if len(page) < PAGE_SIZE:
            return
        offset += len(page)


# --- refunds ----------------------------------------------------------------------------------------------------
def charge_id_of(entry: Transaction) -> str:
    charge_id = (entry.extra_data or {}).get("telegram_payment_charge_id")
    if not charge_id and (entry.idempotency_key or "").startswith(KEY_PREFIX):
        charge_id = entry.idempotency_key[len(KEY_PREFIX):]
    return charge_id or ""


def _stars_entry(entry: Transaction | int) -> Transaction:
    entry = entry if isinstance(entry, Transaction) else Transaction.objects.select_related("user").get(pk=entry)
    if entry.type != TransactionType.TOPUP or not charge_id_of(entry):
        raise NotRefundable(f"Entry #{entry.pk} is not a Telegram Stars payment.")
    return entry


def _flag(entry: Transaction, **flags) -> None:
    """Note something for the operator on a ledger entry (amounts never change)."""
    services.ledger_entry_annotate(entry=entry, notes=flags)


def payment_bonus_of(entry: Transaction) -> Transaction | None:
    """The promo code bonus credited with this Stars payment, if any."""
    charge_id = charge_id_of(entry)
    if not charge_id:
        return None
    return Transaction.objects.filter(idempotency_key=f"{BONUS_KEY_PREFIX}{charge_id}", type=TransactionType.BONUS,
                                      user_id=entry.user_id).first()


def _owed(entry: Transaction, bonus: Transaction | None) -> Decimal:
    """The coins a refund of ``entry`` still has to take back: the payment's and its bonus's, unless reversed."""
    credits = [e for e in (entry, bonus) if e is not None]
    reversed_ids = entries_reversed(entries=credits)
    return sum((e.amount for e in credits if e.pk not in reversed_ids), Decimal("0"))


def _reverse_together(entry: Transaction, *, created_by: str, description: str) -> Transaction:
    """Reverse the payment and its promo bonus together (each at most once), or neither (``InsufficientFunds``)."""
    bonus = payment_bonus_of(entry)
    with transaction.atomic():
        reversal = services.balance_reverse_payment(entry=entry, description=description, created_by=created_by)
        if bonus is not None:
            services.balance_reverse_bonus(
                entry=bonus, description=describe(ledger_texts.PROMO_BONUS_REVERSAL, description=description),
                created_by=created_by)
    return reversal


def _reverse_or_flag(entry: Transaction, *, created_by: str, description: str) -> Transaction:
    """Reverse the payment and its promo bonus together, or neither and flag the entry."""
    owed = _owed(entry, payment_bonus_of(entry))
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
        if _owed(entry, payment_bonus_of(entry)):
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
        if not _refused(error):
            logger.warning("Stars refund of entry #%s unconfirmed (%s): coins stay taken, refund pending",
                           entry.pk, error)
            raise RefundUnconfirmed(f"Telegram did not confirm the refund ({error.description}); the coins stay "
                                    "taken back until it does: refund again.", error_code=error.error_code) from None
        with transaction.atomic():
            for credit in (entry, payment_bonus_of(entry)):
                if credit is not None and (taken := reversal_live(entry=credit)) is not None:
                    services.balance_reversal_undo(
                        entry=taken, created_by=created_by,
                        description=describe(ledger_texts.STARS_REFUND_REFUSED, entry=entry.pk))
            _flag(entry, **{PENDING_FLAG: False})
        raise
    _flag(entry, **{PENDING_FLAG: False})
    return reversal


def _refused(error: StarsAPIError) -> bool:
    """Telegram answered, and said no: nothing was refunded. No answer, flood control or a server error leave it
    open whether the refund happened."""
    return error.error_code is not None and error.error_code != 429 and error.error_code < 500


def stars_refund_record(*, telegram_payment_charge_id: str, created_by: str = "telegram") -> Transaction | None:
    """Telegram says this payment was refunded (``refunded_payment``): reverse its credit and its promo bonus
    exactly once.

    Returns the reversal, or None when the ledger has no such payment (logged). Raises ``RefundNotReversed`` when
    the coins were spent (the entry is flagged).
    """
    entry = Transaction.objects.filter(
        idempotency_key=f"{KEY_PREFIX}{telegram_payment_charge_id}", type=TransactionType.TOPUP).first()
    if entry is None:
        logger.warning("Refund of unknown Stars payment %s: nothing to reverse", telegram_payment_charge_id)
        return None
    reversal = _reverse_or_flag(entry, created_by=created_by, description=ledger_texts.STARS_REFUND_OUTSIDE)
    if (entry.extra_data or {}).get(PENDING_FLAG):
        _flag(entry, **{PENDING_FLAG: False})  # Telegram confirms the refund an operator's call left pending
    return reversal


# --- reconciliation ---------------------------------------------------------------------------------------------
@dataclass
class TelegramPayment:
    charge_id: str
    stars: int
    user: dict
    payload: str
    date: int
    refunded: bool = False


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


def telegram_payments() -> dict[str, TelegramPayment]:
    """Incoming invoice payments by charge id; a refund is listed with the same id and the user as receiver."""
    payments: dict[str, TelegramPayment] = {}
    refunded: set[str] = set()
    for item in star_transactions():
        source, receiver = item.get("source") or {}, item.get("receiver") or {}
        if source.get("type") == "user" and source.get("transaction_type", "invoice_payment") == "invoice_payment":
            payments[item["id"]] = TelegramPayment(
                charge_id=item["id"], stars=int(item.get("amount") or 0), user=source.get("user") or {},
                payload=source.get("invoice_payload") or "", date=int(item.get("date") or 0))
        elif receiver.get("type") == "user":
            refunded.add(item["id"])
    for charge_id in refunded & payments.keys():
        payments[charge_id].refunded = True
    return payments


def _package_from_payload(payload: str) -> TopUpPackage | None:
    """The bot's payload is ``topup:<telegram id>:<package id>:<stars>:<discount>[:<nonce>]`` (promocodes.services;
    discounted invoices carry the nonce)."""
    parts = (payload or "").split(":")
    if len(parts) in (5, 6) and parts[0] == "topup" and parts[2].isdigit():
        return TopUpPackage.objects.filter(pk=int(parts[2])).first()
    return None


def _credit_missing(payment: TelegramPayment, *, created_by: str) -> Transaction:
    """Credit what the bot would have: the package's coins when the payload names one, else 1 coin per Star.

    Promo code bonuses and discounts are not replayed: they belong to the purchase flow and stay pending.
    """
    tg_user = payment.user
    user = User.objects.filter(telegram_id=tg_user["id"]).first() or user_upsert_from_telegram(
        telegram_id=tg_user["id"], first_name=tg_user.get("first_name"), last_name=tg_user.get("last_name"),
        username=tg_user.get("username"), language_code=tg_user.get("language_code"),
        is_premium=tg_user.get("is_premium"), is_bot=tg_user.get("is_bot"))
    package = _package_from_payload(payment.payload)
    amount = package.total_credits if package else Decimal(payment.stars)
    return services.balance_credit(
        user=user, amount=amount, type=TransactionType.TOPUP, idempotency_key=f"{KEY_PREFIX}{payment.charge_id}",
        description=describe(ledger_texts.STARS_TOPUP_RECONCILED,
                             package=package.title if package else f"{payment.stars} ⭐"),
        created_by=created_by,
        extra_data={
            "telegram_payment_charge_id": payment.charge_id, "invoice_payload": payment.payload,
            "stars": payment.stars, "package_id": package.pk if package else None,
            "telegram_user_id": tg_user["id"], "reconciled": True,
        },
    )


def stars_reconcile(*, fix: bool = False, created_by: str = "reconcile_stars") -> ReconcileReport:
    """Compare Telegram's Stars payments with the ledger's Stars credits; with ``fix``, repair what is safe.

    Fixes: credit payments the ledger lacks (once, marked ``reconciled``), reverse credits of payments Telegram
    refunded, flag ledger credits Telegram does not know (``stars_unknown_to_telegram``) — never delete them.
    """
    report = ReconcileReport()
    payments = telegram_payments()
    report.telegram_payments = len(payments)
    ledger = {charge_id_of(e): e for e in Transaction.objects.filter(
        type=TransactionType.TOPUP, idempotency_key__startswith=KEY_PREFIX).select_related("user")}
    report.ledger_payments = len(ledger)
    bonuses = {e.idempotency_key[len(BONUS_KEY_PREFIX):]: e for e in Transaction.objects.filter(
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
                _flag(entry, **{UNKNOWN_FLAG: True, "stars_checked_at": timezone.now().isoformat()})
        elif fix and flagged:
            # Telegram lists it now (a delay on its side, or a restored test environment): lift the flag.
            _flag(entry, **{UNKNOWN_FLAG: False, "stars_checked_at": timezone.now().isoformat()})
    return report


def _flag_mismatch(payment: TelegramPayment, *, fix: bool, report: ReconcileReport) -> bool:
    """Whether a payment the ledger lacks does not match its invoice (flagged with ``fix``), as its
    ``successful_payment`` would have found."""
    reason = payment_mismatch(payer_telegram_id=payment.user.get("id"), payload=payment.payload,
                              currency=STARS_CURRENCY, total_amount=payment.stars)
    if reason and fix:
        _try(report, f"flag {payment.charge_id}", lambda: stars_payment_flag(
            telegram_payment_charge_id=payment.charge_id, payer_telegram_id=payment.user.get("id"),
            payload=payment.payload, currency=STARS_CURRENCY, total_amount=payment.stars, reason=reason))
    return reason is not None


def _try(report: ReconcileReport, what: str, action) -> None:
    try:
        action()
    except BillingError as error:
        report.problems.append(f"{what}: {error}")
