"""Telegram messages sent from background tasks (training finished, images ready, refunds).

Tasks run in the worker, not in the bot: they must not import ``botworker`` (arrows point botworker ->
generations), so they make the few Bot API calls themselves with a tiny synchronous HTTP client against
``settings.BOT_API_URL``. Buttons carry callback data in the bot's packed format, taken from ``CALLBACKS``
(a test pins them to the bot's CallbackData classes).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid

from django.conf import settings

logger = logging.getLogger(__name__)

# Packed callback data of the bot's buttons that notifications show (pinned by tests/generations).
CALLBACKS = {
    "avatar_list": "menu:avatars",
    "generate": "menu:generate",
    "gallery": "menu:gallery",
    "top_up": "balance_top_up",
}


class DeliveryFailed(Exception):
    """Telegram did not take the message; ``permanent`` when retrying cannot help (blocked, chat gone)."""

    def __init__(self, message: str, *, permanent: bool = False):
        self.permanent = permanent
        super().__init__(message)


def keyboard(*rows: list[tuple[str, str]]) -> dict:
    return {"inline_keyboard": [[{"text": text, "callback_data": CALLBACKS[key]} for text, key in row]
                                for row in rows]}


def send_message(*, chat_id: int, text: str, reply_markup: dict | None = None) -> dict:
    payload = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if reply_markup:
        payload["reply_markup"] = reply_markup
    return _call("sendMessage", json.dumps(payload).encode(), "application/json")


def send_album(*, chat_id: int, images: list[tuple[str, bytes]], caption: str = "") -> dict:
    """One photo album (sendMediaGroup; a single photo goes as sendPhoto) uploaded as multipart files."""
    fields: dict[str, str] = {"chat_id": str(chat_id)}
    files = {f"photo{i}": (name, content) for i, (name, content) in enumerate(images)}
    if len(images) == 1:
        fields.update({"photo": "attach://photo0", "caption": caption, "parse_mode": "HTML"})
        method = "sendPhoto"
    else:
        media = [{"type": "photo", "media": f"attach://photo{i}"} for i in range(len(images))]
        if caption:
            media[0].update({"caption": caption, "parse_mode": "HTML"})
        fields["media"] = json.dumps(media)
        method = "sendMediaGroup"
    body, content_type = _multipart(fields, files)
    return _call(method, body, content_type)


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (file_name, content) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
        parts.append(head + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _call(method: str, body: bytes, content_type: str) -> dict:
    if not settings.BOT_TOKEN:
        raise DeliveryFailed("BOT_TOKEN is not set", permanent=True)
    url = f"{settings.BOT_API_URL.rstrip('/')}/bot{settings.BOT_TOKEN}/{method}"
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read()).get("result")
    except urllib.error.HTTPError as exc:
        try:
            description = json.loads(exc.read()).get("description", "")
        except ValueError:
            description = ""
        # 400/403 mean the chat cannot get it (blocked, deleted, bad request): retrying will not help.
        raise DeliveryFailed(f"{method}: HTTP {exc.code} {description}", permanent=exc.code in (400, 403)) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise DeliveryFailed(f"{method}: {exc}") from None
