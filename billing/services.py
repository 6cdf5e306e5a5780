"""Every change of a balance. Each locks the user's balance row, re-checks under the lock, appends one ledger
entry carrying the balance after it, and never goes below zero; all of it or nothing.

On PostgreSQL that is ONE statement in one round trip (``_LEDGER_WRITE``): writes of one user contend for the
balance row, so its lock must not be held across round trips and the Python between them (issue 18: the
locked ORM version ran at 0.07x a bare UPDATE; see bench/ledger_contention). SQLite (tests, development) runs
the same steps as ORM queries in ``transaction.atomic()``.
"""

import json
import weakref
from decimal import Decimal, InvalidOperation

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing import ledger_texts
from billing.exceptions import ChargeMismatch, IdempotencyConflict, InsufficientFunds, InvalidAmount, NotRefundable
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance
from billing.selectors import reversal_chain_end

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
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


def _applied_before(new: dict) -> Transaction | None:
    """The entry written earlier under the new entry's idempotency key, or the reversal already made of the entry
    it reverses; ``IdempotencyConflict`` if the key is another user's."""
    if new["idempotency_key"]:
        earlier = Transaction.objects.filter(idempotency_key=new["idempotency_key"]).first()
        if earlier is not None and earlier.user_id != Transaction._meta.get_field("user").to_python(new["user_id"]):
            raise IdempotencyConflict(f"Idempotency key {new['idempotency_key']!r} belongs to another user's entry.")
        if earlier is not None:
            return earlier
    if new["refund_of_id"] is not None:
        return Transaction.objects.filter(refund_of_id=new["refund_of_id"]).first()
    return None


def _apply(
    *, user_id, amount: Decimal, type: str, description: str, idempotency_key: str | None, created_by: str,
    extra_data: dict | None, refund_of: Transaction | None = None,
) -> Transaction:
    """Append one completed entry of a signed ``amount`` and move the balance; the heart of every service.

    An entry already written under the same ``idempotency_key`` (or the reversal already made of ``refund_of``)
    is returned instead, and no money moves.
    """
    new = {  # the new entry's columns but its id and balance_after
        "user_id": user_id, "amount": amount, "type": type, "status": TransactionStatus.COMPLETED,
        "description": description[:500], "extra_data": extra_data or {}, "idempotency_key": idempotency_key or None,
        "refund_of_id": None if refund_of is None else refund_of.pk, "created_by": created_by[:150],
        "created_at": timezone.now(),
    }
    db = connections[DEFAULT_DB_ALIAS]
    entry = _apply_in_one_statement(db, new) if db.vendor == "postgresql" else _apply_locked(new)
    if refund_of is not None and entry.refund_of_id == refund_of.pk:
        entry.refund_of = refund_of
    return entry


def _apply_locked(new: dict) -> Transaction:
    """``_apply`` as ORM queries in one ``transaction.atomic()`` (SQLite)."""
    try:
        with transaction.atomic():
            if (earlier := _applied_before(new)) is not None:
                return earlier
            balance = _lock_balance(new["user_id"])
            # Re-check under the lock: a concurrent call with the same key may have committed meanwhile.
            if (earlier := _applied_before(new)) is not None:
                return earlier
            new_coins = balance.coins + new["amount"]
            if new_coins < 0:
                raise InsufficientFunds(balance=balance.coins, required=-new["amount"])
            balance.coins = new_coins
            balance.updated_at = new["created_at"]
            balance.save(update_fields=["coins", "updated_at"])
            return Transaction.objects.create(**new, balance_after=new_coins)
    except IntegrityError:
        # The unique key (idempotency or one-refund-per-entry) lost a race that the lock could not see.
        if (earlier := _applied_before(new)) is not None:
            return earlier
        raise


# The whole of ``_apply`` as one PostgreSQL statement. ``moved`` is the lock and the check under it: the UPDATE
# waits for a concurrent writer of the row and then re-evaluates its WHERE on the committed coins (READ
# COMMITTED), so the balance never goes below zero. A row whose coins in the statement's snapshot do not suffice
# is refused without waiting: that debit comes before a credit still uncommitted then. With a key (or as a
# reversal) nothing moves if the key (the reversal) is in the snapshot; a concurrent writer of the same key that
# committed after the snapshot is caught by the unique index: the INSERT fails and the statement, being one,
# leaves nothing behind. ``entry`` is written only by a move. One row back: the coins in the snapshot (NULL: no
# balance row yet), the new entry's id and the balance after it (NULL: nothing moved).
# (A ``SELECT ... FOR UPDATE`` of the row in the same statement, for the entry to read, is NOT an equivalent
# lock: the UPDATE then adds to the coins of the snapshot's row version, and a debit can overdraw.)
_LEDGER_WRITE = """
WITH balance AS (
    SELECT coins FROM user_balances WHERE user_id = %(user_id)s::uuid
), moved AS (
    UPDATE user_balances SET coins = coins + %(amount)s::numeric, updated_at = %(created_at)s::timestamptz
    WHERE user_id = %(user_id)s::uuid AND coins + %(amount)s::numeric >= 0{gate}
    RETURNING coins
), entry AS (
    INSERT INTO transactions (user_id, amount, type, status, description, extra_data, balance_after,
                              idempotency_key, refund_of_id, created_by, created_at)
    SELECT %(user_id)s::uuid, %(amount)s::numeric, %(type)s::varchar, '{status}', %(description)s::varchar,
           %(extra_data)s::jsonb, coins, %(idempotency_key)s::varchar, %(refund_of_id)s::bigint,
           %(created_by)s::varchar, %(created_at)s::timestamptz
    FROM moved
    RETURNING id, balance_after
)
SELECT (SELECT coins FROM balance), (SELECT id FROM entry), (SELECT balance_after FROM entry)
"""
_KEY_GATE = "\n      AND NOT EXISTS (SELECT FROM transactions WHERE idempotency_key = %(idempotency_key)s::varchar)"
_REVERSAL_GATE = "\n      AND NOT EXISTS (SELECT FROM transactions WHERE refund_of_id = %(refund_of_id)s::bigint)"
# By (has a key, is a reversal). Without either nothing can conflict, and the statement skips the look-ups.
_LEDGER_WRITES = {
    (keyed, reversal): _LEDGER_WRITE.format(
        gate=(_KEY_GATE if keyed else "") + (_REVERSAL_GATE if reversal else ""), status=TransactionStatus.COMPLETED,
    )
    for keyed in (False, True) for reversal in (False, True)
}
_EXTRA_DATA = Transaction._meta.get_field("extra_data")
_COLUMNS = [field.attname for field in Transaction._meta.concrete_fields]
_ATTEMPTS = 5


def _apply_in_one_statement(db, new: dict) -> Transaction:
    """``_apply`` on PostgreSQL: one round trip when money moves; a look-up more when a key was used before."""
    for _ in range(_ATTEMPTS):
        try:
            seen, entry = _write(db, new)
            if entry is None and seen is None and new["amount"] > 0 and _applied_before(new) is None:
                # The user's first credit: open the balance at zero and write again, both or neither.
                with transaction.atomic(using=db.alias):
                    UserBalance.objects.bulk_create([UserBalance(user_id=new["user_id"])], ignore_conflicts=True)
                    seen, entry = _write(db, new)
        except IntegrityError:
            # Lost a race on the unique key (or reversal), so nothing of this call stayed: the winner's entry is
            # the answer.
            if (earlier := _applied_before(new)) is not None:
                return earlier
            raise
        if entry is not None:
            return entry
        if (earlier := _applied_before(new)) is not None:
            return earlier
        if seen is None or seen + new["amount"] < 0:
            raise InsufficientFunds(balance=ZERO if seen is None else seen, required=-new["amount"])
        # The coins in the snapshot sufficed but those committed meanwhile did not: again on a fresh snapshot, so
        # that a refusal reports the balance it was refused on.
    raise InsufficientFunds(balance=seen, required=-new["amount"])


def _write(db, new: dict) -> tuple[Decimal | None, Transaction | None]:
    """Run the statement: the coins it saw and the entry it wrote (None if it moved nothing).

    Inside the caller's transaction a write that can lose a race on a unique key runs in a savepoint, so that
    losing it leaves the caller's transaction usable (in autocommit the statement is its own transaction)."""
    keyed, reversal = new["idempotency_key"] is not None, new["refund_of_id"] is not None
    # extra_data as Django's JSONField encodes it (json.dumps with the field's encoder), sent as text for the
    # ::jsonb cast: psycopg's Jsonb adapter costs several times the encoding on this path.
    params = {**new, "extra_data": json.dumps(new["extra_data"], cls=_EXTRA_DATA.encoder)}
    if (keyed or reversal) and not db.get_autocommit():
        with transaction.atomic(using=db.alias):
            seen, entry_id, balance_after = _execute(db, _LEDGER_WRITES[keyed, reversal], params)
    else:
        seen, entry_id, balance_after = _execute(db, _LEDGER_WRITES[keyed, reversal], params)
    if entry_id is None:
        return seen, None
    row = {**new, "id": entry_id, "balance_after": balance_after}
    return seen, Transaction.from_db(db.alias, _COLUMNS, [row[column] for column in _COLUMNS])


def _execute(db, sql: str, params: dict) -> tuple:
    """One row of ``sql`` through a cursor like ``connection.cursor()`` (errors translated, queries logged when
    Django logs them) that binds parameters on the server, so that psycopg prepares the statement once it
    repeats on a connection (``prepare_threshold`` in settings; the ORM binds on the client, never prepares).
    The cursor is kept with its connection: a new one would look up its adapters again on every call."""
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    if (cursor := _CURSORS.get(db)) is None or cursor.connection is not db.connection:
        cursor = _CURSORS[db] = psycopg.Cursor(db.connection)
    if db.queries_logged or db.execute_wrappers:
        (db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)).execute(sql, params)
    else:  # what Django's CursorWrapper.execute does then, without building one per call
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            cursor.execute(sql, params)
    return cursor.fetchone()


# Django's connection object (one per thread and alias) -> a cursor on its current database connection. Keyed by
# Django's object, not psycopg's: the cursor refers to its psycopg connection, which would never be freed.
_CURSORS: "weakref.WeakKeyDictionary[object, psycopg.Cursor]" = weakref.WeakKeyDictionary()


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
