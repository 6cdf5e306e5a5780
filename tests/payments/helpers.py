"""Helpers of the payments tests: Stars credits in the ledger, and Telegram's list of Stars transactions."""

from billing.models import Transaction, TransactionType
from billing.services import balance_credit


def stars_topup(user, charge_id: str, coins="100", stars_paid=50, payload="topup:1:1:50:-") -> Transaction:
    """A Stars payment's credit as the bot writes it."""
    return balance_credit(
        user=user, amount=coins, type=TransactionType.TOPUP, idempotency_key=f"stars:{charge_id}",
        created_by="telegram", extra_data={"telegram_payment_charge_id": charge_id, "invoice_payload": payload,
                                           "stars": stars_paid, "package_id": None,
                                           "telegram_user_id": user.telegram_id})


def reversals_of(entry) -> list[Transaction]:
    return list(Transaction.objects.filter(refund_of=entry))


def telegram_payment(charge_id: str, user_id: int, stars_paid: int, payload: str = "") -> dict:
    """An incoming invoice payment as getStarTransactions lists it."""
    return {"id": charge_id, "amount": stars_paid, "date": 1_700_000_000,
            "source": {"type": "user", "transaction_type": "invoice_payment",
                       "user": {"id": user_id, "is_bot": False, "first_name": f"P{user_id}"},
                       "invoice_payload": payload}}


def telegram_refund(charge_id: str, user_id: int, stars_paid: int) -> dict:
    """A refund as getStarTransactions lists it: the payment's id, the user as receiver."""
    return {"id": charge_id, "amount": stars_paid, "date": 1_700_000_100,
            "receiver": {"type": "user", "user": {"id": user_id, "is_bot": False, "first_name": "R"}}}


def serve_star_history(api, *items: dict) -> None:
    """Have the fake Bot API list ``items`` as the bot's Stars transactions (from the asked offset)."""
    api.results["getStarTransactions"] = lambda data: {"transactions": list(items)[int(data.get("offset") or 0):]}
