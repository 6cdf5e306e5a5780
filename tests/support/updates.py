"""Builders of Telegram ``Update`` JSON for feeding the fake Bot API (private chats: chat id = user id)."""

import itertools
import time

_ids = itertools.count(1)


def tg_user(user_id: int, *, first_name: str = "Тест", username: str | None = None, is_premium=..., **extra) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru", **extra}
    if username:
        user["username"] = username
    if is_premium is not ...:
        user["is_premium"] = is_premium  # None sends JSON null, as Telegram's clients sometimes do
    return user


def _message(user_id: int, **fields) -> dict:
    frm = fields.pop("from_user", None) or tg_user(user_id)
    return {"message_id": next(_ids), "date": int(time.time()), "chat": {"id": user_id, "type": "private",
            "first_name": frm.get("first_name", "")}, "from": frm, **fields}


def message(user_id: int, text: str, **kwargs) -> dict:
    msg = _message(user_id, text=text, **kwargs)
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


def callback(user_id: int, data: str, *, message_id: int = 1, from_user: dict | None = None) -> dict:
    return {"callback_query": {
        "id": str(next(_ids)), "from": from_user or tg_user(user_id), "chat_instance": "ci", "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": {"id": user_id, "type": "private"},
                    "from": {"id": 123456789, "is_bot": True, "first_name": "TestBot"}, "text": "menu"},
    }}


def photo(user_id: int, file_id: str, *, width: int = 1024, height: int = 1024, size: int = 100_000,
          media_group_id: str | None = None, caption: str | None = None) -> dict:
    sizes = [
        {"file_id": f"{file_id}-small", "file_unique_id": f"{file_id}-s", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": file_id, "file_unique_id": f"{file_id}-u", "width": width, "height": height, "file_size": size},
    ]
    fields = {"photo": sizes}
    if media_group_id:
        fields["media_group_id"] = media_group_id
    if caption:
        fields["caption"] = caption
    return {"message": _message(user_id, **fields)}


def document(user_id: int, file_id: str, *, file_name: str, mime_type: str, size: int = 100_000) -> dict:
    return {"message": _message(user_id, document={"file_id": file_id, "file_unique_id": f"{file_id}-u",
                                                   "file_name": file_name, "mime_type": mime_type,
                                                   "file_size": size})}


def pre_checkout(user_id: int, *, payload: str, total_amount: int, currency: str = "XTR",
                 from_user: dict | None = None) -> dict:
    return {"pre_checkout_query": {"id": str(next(_ids)), "from": from_user or tg_user(user_id),
                                   "currency": currency, "total_amount": total_amount, "invoice_payload": payload}}


def successful_payment(user_id: int, *, payload: str, total_amount: int, charge_id: str,
                       currency: str = "XTR") -> dict:
    return {"message": _message(user_id, successful_payment={
        "currency": currency, "total_amount": total_amount, "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": "",
    })}


def refunded_payment(user_id: int, *, payload: str, total_amount: int, charge_id: str) -> dict:
    return {"message": _message(user_id, refunded_payment={
        "currency": "XTR", "total_amount": total_amount, "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
    })}
