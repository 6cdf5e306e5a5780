"""An ASGI middleware in front of Django (``config.asgi``) that refuses an oversized Telegram webhook body before
it is read: Django's ASGI handler reads a whole request body (to a temporary file, however large) before any view
runs, so the view's own check would come too late.

A webhook request declaring a ``Content-Length`` over ``MAX_BODY_BYTES`` is answered 413 at once; one without a
length (a chunked body) is read up to the limit and answered 413 as soon as it passes it. What is within the limit
is handed to Django unchanged. Other paths pass through untouched (the admin uploads larger files).
"""

from __future__ import annotations

# Here rather than in botworker.webhook so that config.asgi can wrap the app before Django is set up.
PATH_PREFIX = "telegram/webhook/"
# Telegram's updates are a few kilobytes; anything near this is not one of them.
MAX_BODY_BYTES = 1024 * 1024
REFUSAL = b'{"ok": false, "description": "body too large"}'


class WebhookBodyLimit:
    def __init__(self, app, *, limit: int = MAX_BODY_BYTES, prefix: str = f"/{PATH_PREFIX}"):
        self.app, self.limit, self.prefix = app, limit, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self._is_webhook(scope):
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _refuse(send, 413 if declared.isdigit() else 400)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                return await _refuse(send, 413)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        return await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _is_webhook(self, scope) -> bool:
        path, root = scope.get("path", ""), scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        return path.startswith(self.prefix)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _replay(body: bytes, receive):
    """The body already read, as one message; then the real channel (for the disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send, status: int) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(REFUSAL)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": REFUSAL})
