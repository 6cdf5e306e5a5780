"""The Bot API's Telegram Stars methods this project calls: ``refundStarPayment`` and ``getStarTransactions``.

Plain synchronous HTTP through ``accounts.telegram`` (the bot's token and ``BOT_API_URL``): payments imports
neither aiogram nor botworker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from accounts import telegram
from payments.exceptions import StarsAPIError

PAGE_SIZE = 100  # getStarTransactions allows at most 100 per call
TIMEOUT = 15
ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


@dataclass
class TelegramPayment:
    """An incoming invoice payment as Telegram lists it."""

    charge_id: str
    stars: int
    user: dict
    payload: str
    date: int
    refunded: bool = False


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


def refund_refused(error: StarsAPIError) -> bool:
    """Telegram answered, and said no: nothing was refunded. No answer, flood control or a server error leave it
    open whether the refund happened."""
    return error.error_code is not None and error.error_code != 429 and error.error_code < 500


def star_transactions() -> Iterator[dict]:
    """Every Stars transaction of the bot, oldest first, page by page."""
    offset = 0
    while True:
        page = (bot_api_call("getStarTransactions", offset=offset, limit=PAGE_SIZE) or {}).get("transactions") or []
        yield from page
        if len(page) < PAGE_SIZE:
            return
        offset += len(page)


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
