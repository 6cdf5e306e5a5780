"""Webhook mode: Telegram POSTs updates to an endpoint of the Django ASGI app, any number of web processes serve it.

The endpoint lives at a path derived from ``BOT_WEBHOOK_SECRET`` (so the secret itself never appears in access
logs) and accepts a request only with the secret in ``X-Telegram-Bot-Api-Secret-Token``. Each ``update_id`` is
claimed by inserting a ``ProcessedUpdate`` row first: the primary key makes the claim atomic across processes and
machines, so Telegram's re-deliveries (it re-sends when an answer is slow or lost) are answered 200 and dropped.

When handling raises (an infrastructure failure past the dispatcher's own error handler, e.g. the database went
away), the claim is deleted again and the endpoint answers 500: Telegram re-sends the update later and it is
handled then (handlers are idempotent, their effects keyed in the database), so a pre-checkout query or a refund
is not lost. A handling cut off by ``BOT_WEBHOOK_TIMEOUT`` keeps its claim and is answered 200: it may have done
part of its work, and a slow handler re-run on every re-send would only time out again. A process killed while
handling also leaves its claim behind; that update is lost (as an update in hand is with polling).

The update is handled inside the request, by the same dispatcher as polling, bounded by ``BOT_WEBHOOK_TIMEOUT``.
Handling in the request (rather than in a task that outlives it) keeps Django's per-request thread and database
connection life cycle intact, and lets Telegram's ``max_connections`` act as back-pressure.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from botworker.models import ProcessedUpdate

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Everything the bot handles, payments included: Telegram only sends what is listed here.
ALLOWED_UPDATES = [
    "message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member", "chat_member",
]


# --- the dedupe service -----------------------------------------------------------------------------------------
def processed_update_claim(*, update_id: int) -> bool:
    """Record ``update_id`` as handled; False when some process already did (then it must not be handled)."""
    try:
        ProcessedUpdate.objects.create(update_id=update_id)
    except IntegrityError:
        return False
    return True


def processed_update_release(*, update_id: int) -> None:
    """Forget that ``update_id`` was claimed (its handling failed), so that Telegram's re-send is handled."""
    ProcessedUpdate.objects.filter(update_id=update_id).delete()


def processed_updates_prune(*, keep_hours: int | None = None) -> int:
    """Delete handled update ids older than the re-delivery window; returns how many were deleted."""
    hours = settings.BOT_PROCESSED_UPDATES_KEEP_HOURS if keep_hours is None else keep_hours
    deleted, _ = ProcessedUpdate.objects.filter(processed_at__lt=timezone.now() - timedelta(hours=hours)).delete()
    return deleted


# --- the secret path --------------------------------------------------------------------------------------------
def webhook_secret_valid(secret: str) -> bool:
    return bool(SECRET_PATTERN.match(secret))


def webhook_path_token(secret: str | None = None) -> str:
    """The URL path segment: derived from the secret, not the secret itself (paths end up in access logs)."""
    secret = settings.BOT_WEBHOOK_SECRET if secret is None else secret
    return hashlib.sha256(f"aisha-webhook-path:{secret}".encode()).hexdigest()[:32]


def webhook_url(base_url: str) -> str:
    """The full webhook URL for the public base URL of the web process (which may carry a path prefix)."""
    path = reverse("telegram-webhook", kwargs={"token": webhook_path_token()})
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    prefix = parts.path.rstrip("/")
    if prefix.endswith(path.rstrip("/")):  # already the full webhook URL
        prefix = prefix[: -len(path.rstrip("/"))]
    return urlunsplit((parts.scheme, parts.netloc, prefix + path, "", ""))


# --- the bot and dispatcher of this process ---------------------------------------------------------------------
class _Runtime:
    """The dispatcher is built once per process; the Bot (its HTTP session) once per event loop."""

    dispatcher = None
    bot = None
    bot_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls):
        from botworker.dispatcher import create_bot, create_dispatcher

        if cls.dispatcher is None:
            cls.dispatcher = create_dispatcher()
        loop = asyncio.get_running_loop()
        if cls.bot is None or cls.bot_loop is not loop:
            # A session belongs to the loop that made it (tests run one loop per test; servers one per process).
            cls.bot, cls.bot_loop = create_bot(), loop
        return cls.dispatcher, cls.bot

    @classmethod
    def reset(cls) -> None:
        cls.dispatcher = cls.bot = cls.bot_loop = None


async def _handle_update(data: dict[str, Any]) -> None:
    from aiogram.methods import TelegramMethod
    from aiogram.types import Update

    dispatcher, bot = _Runtime.get()
    update = Update.model_validate(data, context={"bot": bot})
    result = await dispatcher.feed_update(bot, update)
    if isinstance(result, TelegramMethod):  # a handler may return the call to make, as with polling
        await bot(result)


# --- the view ---------------------------------------------------------------------------------------------------
@csrf_exempt
@require_POST
async def telegram_webhook(request: HttpRequest, token: str) -> HttpResponse:
    secret = settings.BOT_WEBHOOK_SECRET
    if not secret or not hmac.compare_digest(token.encode(), webhook_path_token(secret).encode()):
        return HttpResponseNotFound()
    if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode()):
        logger.warning("webhook request with a wrong or missing secret token from %s", request.META.get("REMOTE_ADDR"))
        return HttpResponseForbidden()
    if not settings.BOT_TOKEN:
        # A configuration error of this process: claim nothing, so Telegram re-sends once it is fixed.
        logger.error("webhook update refused: BOT_TOKEN is not set in this web process")
        return JsonResponse({"ok": False, "description": "bot not configured"}, status=503)
    try:
        data = json.loads(request.body)
        update_id = int(data["update_id"])
    except (ValueError, TypeError, KeyError):
        return JsonResponse({"ok": False, "description": "not a Telegram update"}, status=400)

    if not await sync_to_async(processed_update_claim)(update_id=update_id):
        logger.info("update %s was already handled: dropped", update_id)
        return JsonResponse({"ok": True})
    try:
        async with asyncio.timeout(settings.BOT_WEBHOOK_TIMEOUT):
            await _handle_update(data)
    except TimeoutError:
        # Kept as handled (see the module's docstring): it may have done part of its work.
        logger.error("update %s took longer than %ss and was cut off", update_id, settings.BOT_WEBHOOK_TIMEOUT)
    except Exception:
        logger.exception("update %s failed: released for Telegram to send again", update_id)
        return await _release(update_id)
    return JsonResponse({"ok": True})


async def _release(update_id: int) -> HttpResponse:
    """Un-claim a failed update and answer 500, so Telegram re-sends it (it re-sends what is not answered 2xx)."""
    try:
        await sync_to_async(processed_update_release)(update_id=update_id)
    except Exception:  # the database is still gone: the claim may stay, and the re-send will be dropped
        logger.exception("could not release update %s; a re-send of it will be dropped", update_id)
    return JsonResponse({"ok": False, "description": "update failed"}, status=500)
