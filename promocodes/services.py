"""Writes to promo codes: creating them (operators) and activating them (users)."""

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from billing import ledger_texts
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.flagged import STARS_CURRENCY, payment_mismatch, stars_payment_flag
from billing.ledger_texts import describe
from billing.models import TopUpPackage, Transaction, TransactionType
from promocodes.exceptions import (
    DiscountReserved, InvoiceInvalid, InvoiceNotYours, PackageUnavailable, PayerBlocked, PaymentFlagged, PriceChanged,
    PromoCodeAlreadyUsed, PromoCodeExhausted, PromoCodeExpired, PromoCodeInvalid, PromoCodeNotFound, PromoCodeNotStarted,
)
from promocodes.models import Promokode, PromokodeType, PromokodeUsage
from promocodes.selectors import (
    TopUpOffer, discount_usable_usages, discounted_coins, discounted_stars, pending_usages, promo_code_normalize,
)

logger = logging.getLogger(__name__)

# No 0/O or 1/I: codes are read off screens and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TERM_FIELDS = (
    "type", "balance_amount", "bonus_amount", "discount_percent", "max_uses", "max_uses_per_user",
    "valid_from", "valid_until", "description", "is_active",
)


def _validate_terms(terms: dict) -> None:
    kind = terms.get("type")
    if kind not in PromokodeType.values:
        raise PromoCodeInvalid(gettext("Unknown promo code type %(type)s.") % {"type": repr(kind)})
    required = {PromokodeType.BALANCE: "balance_amount", PromokodeType.BONUS: "bonus_amount",
                PromokodeType.DISCOUNT: "discount_percent"}[kind]
    value = terms.get(required)
    if value is None or Decimal(value) <= 0:
        raise PromoCodeInvalid(gettext("This type of code needs a positive “%(field)s”.")
                               % {"field": Promokode._meta.get_field(required).verbose_name})
    if kind == PromokodeType.DISCOUNT and Decimal(value) >= 100:
        raise PromoCodeInvalid(gettext("A discount must be below 100%."))
    if terms.get("valid_from") and terms.get("valid_until") and terms["valid_from"] >= terms["valid_until"]:
        raise PromoCodeInvalid(gettext("“Valid from” must be before “valid until”."))


def promo_code_create(*, code: str, created_by: str = "", **terms) -> Promokode:
    code = (code or "").strip().upper()
    if not code or len(code) > 50 or not code.replace("_", "").replace("-", "").isalnum():
        raise PromoCodeInvalid(gettext("A code is 1 to 50 letters, digits, “-” or “_”."))
    _validate_terms(terms)
    try:
        with transaction.atomic():
            return Promokode.objects.create(code=code, created_by=created_by, **terms)
    except IntegrityError:
        raise PromoCodeInvalid(gettext("The code %(code)s already exists.") % {"code": code}) from None


def promo_code_bulk_generate(
    *, count: int, prefix: str = "", length: int = 8, created_by: str = "", **terms
) -> list[Promokode]:
    """Create ``count`` random codes with the same terms, all or none."""
    if not 1 <= count <= 10_000:
        raise PromoCodeInvalid(gettext("Generate between 1 and 10000 codes at once."))
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


# --- Telegram Stars top-ups -----------------------------------------------------------------------------------

INVOICE_PREFIX = "topup"
# How long a pre-checkout holds the invoice's discount for that invoice: Telegram completes an approved payment
# within seconds, so a hold this long only outlives a payment that failed after its pre-checkout.
DISCOUNT_HOLD = timedelta(minutes=10)
# Set on a Stars credit that the reconciliation made first, once the payment's own delivery has settled the
# promo codes (discount, bonus) of it: a later delivery of the same payment is then a plain duplicate.
SETTLED_NOTE = "purchase_settled_at"


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


def purchase_pre_checkout_check(*, payer_telegram_id: int, payload: str, currency: str, total_amount: int) -> Invoice:
    """Decide a ``pre_checkout_query``: raises a ``PurchaseError`` unless this payer may pay this invoice now.

    An invoice with a discount holds it (``reserved_payload``/``reserved_until``) until its payment consumes it
    or ``DISCOUNT_HOLD`` passes; another invoice carrying the same discount is refused meanwhile
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
    package = TopUpPackage.objects.filter(pk=invoice.package_id, is_active=True).first()
    if package is None:
        raise PackageUnavailable(f"Package {invoice.package_id} is gone or inactive.")
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
    """Lock the unused discount and hold it for ``payload``; returns its percent."""
    usage = (pending_usages(user=user, type=PromokodeType.DISCOUNT).select_for_update(of=("self",))
             .filter(pk=usage_id).first())
    if usage is None:
        raise PriceChanged("The discount of this invoice was already used.")
    now = timezone.now()
    if usage.reserved_payload not in (None, payload) and usage.reserved_until and usage.reserved_until > now:
        raise DiscountReserved(f"Discount {usage_id} is held by another invoice until {usage.reserved_until}.")
    usage.reserved_payload, usage.reserved_until = payload, now + DISCOUNT_HOLD
    usage.save(update_fields=["reserved_payload", "reserved_until"])
    return usage.promokode.discount_percent


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
    nothing: it is flagged for an operator (``billing.flagged``) and ``PaymentFlagged`` raised. Otherwise it is
    never refused: Telegram has taken the Stars. A package deleted since the invoice is credited 1 coin per Star
    paid; a discount already consumed by another payment is logged, and this payment credited all the same.
    """
    invoice = invoice_parse(payload)
    key = f"stars:{telegram_payment_charge_id}"  # billing.stars (refunds, reconciliation) relies on this form
    bonus_key = f"promo-bonus:{telegram_payment_charge_id}"  # ... and on this one (refunds reverse the bonus too)
    reason = payment_mismatch(payer_telegram_id=payer_telegram_id, payload=payload, currency=currency,
                              total_amount=total_amount)
    if reason and not Transaction.objects.filter(idempotency_key=key).exists():  # else: credited before, a repeat
        _flagged, first = stars_payment_flag(
            telegram_payment_charge_id=telegram_payment_charge_id, payer_telegram_id=payer_telegram_id,
            payload=payload, currency=currency, total_amount=total_amount, reason=reason)
        raise PaymentFlagged(reason, first=first)
    with transaction.atomic():
        # One purchase of a user at a time: a second delivery waits here, then finds the first one's entry.
        payer = User.objects.select_for_update().get(telegram_id=payer_telegram_id)
        existing = Transaction.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _purchase_already_credited(existing, payer=payer, invoice=invoice, bonus_key=bonus_key)
        package = TopUpPackage.objects.filter(pk=invoice.package_id).first()
        if package is None:
            logger.warning("Paid package %s no longer exists (charge %s): crediting %s coins, one per Star paid",
                           invoice.package_id, key, total_amount)
        topup = billing_services.balance_credit(
            user=payer, amount=package.total_credits if package else Decimal(total_amount),
            type=TransactionType.TOPUP, idempotency_key=key, created_by="telegram",
            description=describe(ledger_texts.STARS_TOPUP, package=package.title if package else f"{total_amount} ⭐"),
            extra_data={
                "telegram_payment_charge_id": telegram_payment_charge_id, "invoice_payload": payload,
                "stars": total_amount, "package_id": invoice.package_id, "telegram_user_id": payer_telegram_id,
                **({} if package else {"package_missing": True}),
            },
        )
        bonus = _purchase_settle_promos(payer, invoice=invoice, bonus_key=bonus_key, topup=topup)
    return PurchaseResult(topup=topup, bonus=bonus, balance=(bonus or topup).balance_after, duplicate=False)


def _purchase_already_credited(existing: Transaction, *, payer: User, invoice: Invoice,
                               bonus_key: str) -> PurchaseResult:
    """A second delivery credits nothing. But when the reconciliation credited the payment first, its promo codes
    were not applied: apply them now, once, and let the bot confirm the payment."""
    data = existing.extra_data or {}
    if existing.user_id == payer.pk and data.get("reconciled") and not data.get(SETTLED_NOTE):
        bonus = _purchase_settle_promos(payer, invoice=invoice, bonus_key=bonus_key, topup=existing)
        return PurchaseResult(topup=existing, bonus=bonus, balance=billing_selectors.balance_get(user=payer),
                              duplicate=False, settled_late=True)
    bonus = Transaction.objects.filter(idempotency_key=bonus_key).first()
    return PurchaseResult(topup=existing, bonus=bonus, balance=billing_selectors.balance_get(user=payer),
                          duplicate=True)


def _purchase_settle_promos(payer: User, *, invoice: Invoice, bonus_key: str, topup: Transaction) -> Transaction | None:
    """Consume the invoice's discount and credit the pending bonuses of a credited payment (idempotent)."""
    now = timezone.now()
    package_used = str(invoice.package_id)
    if invoice.discount_usage_id:
        consumed = PromokodeUsage.objects.filter(
            pk=invoice.discount_usage_id, user=payer, consumed_at__isnull=True,
        ).update(consumed_at=now, package_used=package_used, reserved_payload=None, reserved_until=None)
        if not consumed:
            # Telegram took the discounted price already; the payment stands, the operator may look into it.
            logger.warning("Payment %s used discount %s that another payment had consumed; credited anyway",
                           topup.idempotency_key, invoice.discount_usage_id)
    bonus = _credit_pending_bonuses(payer, key=bonus_key, package_used=package_used, now=now)
    if (topup.extra_data or {}).get("reconciled"):
        billing_services.ledger_entry_annotate(entry=topup, notes={SETTLED_NOTE: now.isoformat()})
    return bonus


def _credit_pending_bonuses(payer: User, *, key: str, package_used: str, now) -> Transaction | None:
    if (done := Transaction.objects.filter(idempotency_key=key).first()) is not None:
        return done  # this payment's bonus is in already: later activations wait for the next payment
    usages = list(pending_usages(user=payer, type=PromokodeType.BONUS).select_for_update(of=("self",)))
    amount = sum((u.bonus_added or u.promokode.bonus_amount or Decimal("0") for u in usages), Decimal("0"))
    if not usages or amount <= 0:
        return None
    PromokodeUsage.objects.filter(pk__in=[u.pk for u in usages]).update(consumed_at=now, package_used=package_used)
    return billing_services.balance_credit(
        user=payer, amount=amount, type=TransactionType.BONUS, idempotency_key=key, created_by="telegram",
        description=ledger_texts.PROMO_CODE_BONUS,
        extra_data={"promokode_usage_ids": [str(u.pk) for u in usages], "package_id": int(package_used)},
    )


# --- coin purchases (generations) -------------------------------------------------------------------------------


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
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("discount_consume_for_purchase must run inside the purchase's transaction")
    usage = discount_usable_usages(user=user).select_for_update(of=("self",)).first()
    if usage is None:
        return Decimal(price), None
    usage.consumed_at = timezone.now()
    usage.package_used = (used_for or "coins")[:50]
    usage.reserved_payload = usage.reserved_until = None
    usage.save(update_fields=["consumed_at", "package_used", "reserved_payload", "reserved_until"])
    return discounted_coins(amount=price, percent=usage.promokode.discount_percent), usage
