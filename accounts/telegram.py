"""The Telegram Bot API over plain synchronous HTTP, for code that runs outside the bot's dispatcher: tasks in
the worker (notifications, deliveries) and the operators' Stars tools. It is the one HTTP client of
``settings.BOT_API_URL`` besides aiogram (which only the bot worker uses), so apps that must not import
``botworker`` still reach Telegram the same way. Each caller turns ``BotAPIError`` into its own domain error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from django.conf import settings


class BotAPIError(Exception):
    """Telegram refused the call (``error_code`` set), or could not be asked (``error_code`` None)."""

    def __init__(self, method: str, description: str, *, error_code: int | None = None,
                 configured: bool = True):
        self.method, self.description, self.error_code, self.configured = method, description, error_code, configured
        super().__init__(f"{method}: {description}")


def call(method: str, *, params: dict | None = None, files: dict[str, tuple[str, bytes]] | None = None,
         timeout: float = 15) -> Any:
    """POST one method (JSON, or multipart when ``files`` are given); returns its ``result``."""
    if not settings.BOT_TOKEN:
        raise BotAPIError(method, "BOT_TOKEN is not set", configured=False)
    if files:
        body, content_type = _multipart(params or {}, files)
    else:
        body, content_type = json.dumps(params or {}).encode(), "application/json"
    url = f"{settings.BOT_API_URL.rstrip('/')}/bot{settings.BOT_TOKEN}/{method}"
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    status = 200
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()  # the Bot API explains its errors in the body
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise BotAPIError(method, f"cannot reach the Bot API ({getattr(error, 'reason', error)})") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise BotAPIError(method, f"the Bot API answered HTTP {status} with something that is not JSON",
                          error_code=status if status != 200 else None) from None
    if not answer.get("ok"):
        raise BotAPIError(method, answer.get("description") or "unknown error",
                          error_code=answer.get("error_code") or status)
    return answer.get("result")


def _multipart(fields: dict, files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        if not isinstance(value, str):
            value = json.dumps(value)
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (file_name, content) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode()
        parts.append(head + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
