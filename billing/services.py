"""Every change of a balance. Each is one ``transaction.atomic()`` block that locks the user's balance row,
re-checks under the lock, appends one ledger entry carrying the balance after it, and never goes below zero.
"""

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing import ledger_texts
from billing.exceptions import ChargeMismatch, IdempotencyConflict, InsufficientFunds, InvalidAmount, NotRefundable
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance
from billing.selectors import reversal_chain_end

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000")  # a billion coins in one operation is a typo, not a purchase

CREDIT_TYPES = {
    TransactionType.TOPUP, TransactionType.ADMIN_TOPUP, TransactionType.PROMO, TransactionType.BONUS,
    TransactionType.REFUND, TransactionType.OPENING_BALANCE,
}
DEBIT_TYPES = {TransactionType.CHARGE, TransactionType.PAYMENT_REFUND}


def parse_amount(value, *, allow_negative: bool = False) -> Decimal:
    """Turn user or operator input into an exact amount of coins, or raise ``InvalidAmount``."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount("Amounts must be given as exact decimals (a string, int or Decimal), not floats.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{value!r} is not a number.") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite number.")
    if amount != amount.quantize(CENT, rounding="ROUND_DOWN"):
        raise InvalidAmount(f"{value!r} has more than two decimal places.")
    if amount == 0:
        raise InvalidAmount("The amount must not be zero.")
    if amount < 0 and not allow_negative:
        raise InvalidAmount(f"The amount must be positive, got {value!r}.")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(f"{value!r} is larger than the allowed maximum of {MAX_AMOUNT}.")
    return amount.quantize(CENT)


def _lock_balance(user_id) -> UserBalance:
    """The user's balance row, locked until the surrounding transaction ends (created at zero if missing)."""
    balance = UserBalance.objects.select_for_update().filter(user_id=user_id).first()
    if balance is None:
        try:
            with transaction.atomic():
                UserBalance.objects.create(user_id=user_id)
        except IntegrityError:
            pass  # another transaction created it first
        balance = UserBalance.objects.select_for_update().get(user_id=user_id)
    return balance


def _existing(idempotency_key: str | None, user_id) -> Transaction | None:
    if not idempotency_key:
        return None
    entry = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if entry is not None and entry.user_id != user_id:
        raise IdempotencyConflict(f"Idempotency key {idempotency_key!r} belongs to another user's entry.")
    return entry


def _apply(
    *, user_id, amount: Decimal, type: str, description: str, idempotency_key: str | None, created_by: str,
    extra_data: dict | None, refund_of: Transaction | None = None,
) -> Transaction:
    """Append one completed entry of a signed ``amount`` and move the balance; the heart of every service."""
    try:
        with transaction.atomic():
            if (entry := _existing(idempotency_key, user_id)) is not None:
                return entry
            balance = _lock_balance(user_id)
            # Re-check under the lock: a concurrent call with the same key may have committed meanwhile.
            if (entry := _existing(idempotency_key, user_id)) is not None:
                return entry
            new_coins = balance.coins + amount
            if new_coins < 0:
                raise InsufficientFunds(balance=balance.coins, required=-amount)
            balance.coins = new_coins
            balance.updated_at = timezone.now()
            balance.save(update_fields=["coins", "updated_at"])
            return Transaction.objects.create(
                user_id=user_id,
                amount=amount,
                type=type,
                status=TransactionStatus.COMPLETED,
                description=description[:500],
                extra_data=extra_data or {},
                balance_after=new_coins,
                idempotency_key=idempotency_key or None,
                refund_of=refund_of,
                created_by=created_by[:150],
            )
    except IntegrityError:
        # The unique key (idempotency or one-refund-per-entry) lost a race that the lock could not see.
        if (entry := _existing(idempotency_key, user_id)) is not None:
            return entry
        if refund_of is not None and (entry := Transaction.objects.filter(refund_of=refund_of).first()):
            return entry
        raise


def balance_credit(
    *, user, amount, type: str = TransactionType.ADMIN_TOPUP, description: str = "",
    idempotency_key: str | None = None, created_by: str = "system", extra_data: dict | None = None,
) -> Transaction:
    """Add coins. With an ``idempotency_key`` already applied, returns the first entry and changes nothing."""
    if type not in CREDIT_TYPES:
        raise InvalidAmount(f"{type!r} is not a credit type.")
    return _apply(
        user_id=_user_id(user), amount=parse_amount(amount), type=type, description=description,
        idempotency_key=idempotency_key, created_by=created_by, extra_data=extra_data,
    )


def balance_debit(
    *, user, amount, type: str = TransactionType.CHARGE, description: str = "",
    idempotency_key: str | None = None, created_by: str = "system", extra_data: dict | None = None,
) -> Transaction:
    """Take coins; raises ``InsufficientFunds`` rather than going below zero."""
    if type not in DEBIT_TYPES:
        raise InvalidAmount(f"{type!r} is not a debit type.")
    return _apply(
        user_id=_user_id(user), amount=-parse_amount(amount), type=type, description=description,
        idempotency_key=idempotency_key, created_by=created_by, extra_data=extra_data,
    )


def balance_adjust(
    *, user, amount, reason: str, created_by: str, extra_data: dict | None = None, idempotency_key: str | None = None,
) -> Transaction:
    """An operator's signed correction (positive or negative); a reason is required. With ``idempotency_key`` a
    repeated call (a double submit) returns the first entry instead of adjusting again."""
    if not (reason or "").strip():
        raise InvalidAmount("A reason is required for an adjustment.")
    return _apply(
        user_id=_user_id(user), amount=parse_amount(amount, allow_negative=True), type=TransactionType.ADJUSTMENT,
        description=reason.strip(), idempotency_key=idempotency_key, created_by=created_by, extra_data=extra_data,
    )


def balance_refund(
    *, entry: Transaction | int, description: str = "", created_by: str = "system", user=None,
    charged_for: dict | None = None,
) -> Transaction:
    """Give back a charge. A charge is refunded at most once: a second call returns the first refund.

    ``user`` and ``charged_for`` (``extra_data`` items the charge was made with, e.g. ``{"generation_id": ...}``)
    name the charge the caller means: a charge of another user, or made for something else, is refused
    (``ChargeMismatch``). They are checked on the entry locked in the refund's own transaction.
    """
    with transaction.atomic():
        original = Transaction.objects.select_for_update().get(pk=getattr(entry, "pk", entry))
        if original.type != TransactionType.CHARGE or original.amount >= 0:
            raise NotRefundable(f"Entry {original.pk} is not a charge.")
        data = original.extra_data or {}
        if (user is not None and original.user_id != _user_id(user)) or any(
                str(data.get(name)) != str(value) for name, value in (charged_for or {}).items()):
            raise ChargeMismatch(f"Entry {original.pk} is not the charge of this user and purpose.")
        return _reverse(original, type=TransactionType.REFUND, description=description, created_by=created_by)


def balance_reverse_payment(*, entry: Transaction | int, description: str = "", created_by: str = "system") -> Transaction:
    """Take back the coins of a refunded payment, at most once; ``InsufficientFunds`` if they were spent.

    A reversal stands once: a second call returns it. After ``balance_reversal_undo`` (the refund did not
    happen) the payment may be reversed again.
    """
    original = _entry(entry)
    if original.type != TransactionType.TOPUP or original.amount <= 0:
        raise NotRefundable(f"Entry {original.pk} is not a payment.")
    return _reverse_credit(original, description=description, created_by=created_by)


def balance_reverse_bonus(*, entry: Transaction | int, description: str = "", created_by: str = "system") -> Transaction:
    """Take back a bonus credited with a payment that was refunded, at most once; ``InsufficientFunds`` if spent.

    The promo code usage behind the bonus stays consumed: a refunded purchase does not give the code back.
    """
    original = _entry(entry)
    if original.type != TransactionType.BONUS or original.amount <= 0:
        raise NotRefundable(f"Entry {original.pk} is not a bonus.")
    return _reverse_credit(original, description=description, created_by=created_by)


def balance_reversal_undo(*, entry: Transaction | int, description: str = "", created_by: str = "system") -> Transaction:
    """Give back what a payment reversal took, when the refund it was made for did not happen; at most once
    (the undo is the reversal's one reversal)."""
    original = _entry(entry)
    if original.type != TransactionType.PAYMENT_REFUND or original.amount >= 0 or original.refund_of_id is None:
        raise NotRefundable(f"Entry {original.pk} is not a payment reversal.")
    return _reverse(original, type=TransactionType.ADJUSTMENT, description=description, created_by=created_by)


def _reverse_credit(original: Transaction, *, description: str, created_by: str) -> Transaction:
    """Reverse a credit unless a reversal of it stands; after an undone reversal, the undo is reversed (so every
    link of the chain is one entry's one reversal, and the unique ``refund_of`` still rules out doubles)."""
    end, links = reversal_chain_end(entry=original)
    if links % 2:
        return end
    return _reverse(end, type=TransactionType.PAYMENT_REFUND,
                    description=description or f"Reversal of entry #{original.pk}", created_by=created_by)


def ledger_entry_annotate(*, entry: Transaction | int, notes: dict) -> Transaction:
    """Merge ``notes`` into an entry's ``extra_data`` (for operators and idempotent follow-ups); amounts never
    change."""
    with transaction.atomic():
        locked = Transaction.objects.select_for_update().get(pk=getattr(entry, "pk", entry))
        locked.extra_data = {**(locked.extra_data or {}), **notes}
        locked.save(update_fields=["extra_data"])
    if isinstance(entry, Transaction):
        entry.extra_data = locked.extra_data
    return locked


def _reverse(original: Transaction, *, type: str, description: str, created_by: str) -> Transaction:
    if (existing := Transaction.objects.filter(refund_of=original).first()) is not None:
        return existing
    return _apply(
        user_id=original.user_id, amount=-original.amount, type=type,
        description=description or describe(ledger_texts.REVERSAL, entry=original.pk), idempotency_key=None,
        created_by=created_by, extra_data={"reverses": original.pk}, refund_of=original,
    )


def _entry(entry: Transaction | int) -> Transaction:
    return entry if isinstance(entry, Transaction) else Transaction.objects.get(pk=entry)


def _user_id(user):
    return getattr(user, "pk", user)


def ledger_record_opening_balances(*, created_by: str = "system", batch_size: int = 2000) -> int:
    """Record every non-zero balance that has no ledger entry yet as one ``opening_balance`` entry.

    For databases adopted from the earlier service, which kept balances without a ledger: the balances do not
    move, the ledger catches up with them, so balance = sum of the ledger holds from then on. Idempotent (one
    keyed entry per user); returns how many entries it wrote.
    """
    pending = (
        UserBalance.objects.exclude(coins=0)
        .filter(~Exists(Transaction.objects.filter(user_id=OuterRef("user_id"))))
        .values_list("user_id", "coins")
    )
    written = 0
    with transaction.atomic():
        batch = []
        for user_id, coins in pending.iterator(chunk_size=batch_size):
            batch.append(Transaction(
                user_id=user_id, amount=coins, type=TransactionType.OPENING_BALANCE,
                status=TransactionStatus.COMPLETED, description=ledger_texts.OPENING_BALANCE,
                balance_after=coins, idempotency_key=f"opening_balance:{user_id}", created_by=created_by[:150],
            ))
            if len(batch) >= batch_size:
                written += len(Transaction.objects.bulk_create(batch))
                batch = []
        written += len(Transaction.objects.bulk_create(batch))
    return written
