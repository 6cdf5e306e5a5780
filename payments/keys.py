"""How a Telegram Stars payment is written in the ledger: the idempotency keys of its entries and the notes it leaves
in their ``extra_data``. The one place that knows these forms; refunds and the reconciliation find a payment's
entries by them.

A Stars top-up is a ``TOPUP`` entry keyed ``stars:<telegram_payment_charge_id>``, plus a ``BONUS`` entry keyed
``promo-bonus:<telegram_payment_charge_id>`` when pending promo code bonuses came with it. Keying both by the charge
id makes a repeated delivery of the same payment credit once.
"""

from billing.models import Transaction

STARS_KEY_PREFIX = "stars:"
BONUS_KEY_PREFIX = "promo-bonus:"

# Notes on a Stars credit (``extra_data``), for operators and for the next run of a service:
# Telegram refunded the payment but the user had spent its coins: nothing reversed, an operator decides.
UNREVERSED_FLAG = "stars_refund_unreversed"
# A ledger credit Telegram does not list (set and cleared by the reconciliation; the entry is never removed).
UNKNOWN_FLAG = "stars_unknown_to_telegram"
# Set with the reversal of an operator's refund, cleared once Telegram has answered: while it is set the coins are
# taken back but Telegram has not confirmed the refund (no answer yet, or none that could be trusted).
PENDING_FLAG = "stars_refund_pending"
# Set on a Stars credit that the reconciliation made first, once the payment's own delivery has settled the
# promo codes (discount, bonus) of it: a later delivery of the same payment is then a plain duplicate.
SETTLED_NOTE = "purchase_settled_at"


def stars_key(charge_id: str) -> str:
    """The idempotency key of the ``TOPUP`` entry of a Stars payment."""
    return f"{STARS_KEY_PREFIX}{charge_id}"


def bonus_key(charge_id: str) -> str:
    """The idempotency key of the ``BONUS`` entry credited with a Stars payment (pending promo code bonuses)."""
    return f"{BONUS_KEY_PREFIX}{charge_id}"


def charge_id_of(entry: Transaction) -> str:
    """The Telegram charge id of a Stars credit ("" for any other entry)."""
    charge_id = (entry.extra_data or {}).get("telegram_payment_charge_id")
    if not charge_id and (entry.idempotency_key or "").startswith(STARS_KEY_PREFIX):
        charge_id = entry.idempotency_key[len(STARS_KEY_PREFIX):]
    return charge_id or ""


def charge_id_of_bonus(entry: Transaction) -> str:
    """The Telegram charge id of a bonus credited with a Stars payment ("" for any other entry)."""
    key = entry.idempotency_key or ""
    return key[len(BONUS_KEY_PREFIX):] if key.startswith(BONUS_KEY_PREFIX) else ""
