"""Webhook mode: Telegram POSTs updates to an endpoint of the Django ASGI app, any number of web processes serve it.

The endpoint lives at a path derived from ``BOT_WEBHOOK_SECRET`` (so the secret itself never appears in access
logs) and accepts a request only with the secret in ``X-Telegram-Bot-Api-Secret-Token``. A body over
``MAX_BODY_BYTES`` is refused with 413 (``botworker.webhook_guard`` refuses it before it is read), a body that is
not an update, or whose ``update_id`` is not an integer in 0..2^63-1, with 400.

Each ``update_id`` is claimed by inserting a ``ProcessedUpdate`` row first: the primary key makes the claim atomic
across processes and machines, so Telegram's re-deliveries (it re-sends when an answer is slow or lost) of an
update already handled are answered 200 and dropped (one racing the request that handles it waits for that one
first, up to ``BUSY_WAIT_SECONDS``). The claim is marked ``done`` when its handling has ended.

When handling raises (an infrastructure failure that the dispatcher's error handler leaves unhandled, e.g. the
database went away), the claim is deleted again and the endpoint answers 500: Telegram re-sends the update later
and it is handled then (handlers are idempotent, their effects keyed in the database), so a payment is not lost.
Should deleting the claim fail too (the database is still down), or the process die while handling, the claim is
left undone: a re-send finding it is answered 503 (Telegram sends it again later) until the claim is older than
``BOT_WEBHOOK_TIMEOUT`` plus ``CLAIM_GRACE_SECONDS``; then the re-send takes the claim over and handles the update.
A handling cut off by ``BOT_WEBHOOK_TIMEOUT`` is marked done and answered 200: it may have done part of its work,
and a slow handler re-run on every re-send would only time out again.

The update is handled inside the request, by the same dispatcher as polling, bounded by ``BOT_WEBHOOK_TIMEOUT``.
Handling in the request (rather than in a task that outlives it) keeps Django's per-request thread and database
connection life cycle intact, and lets Telegram's ``max_connections`` act as back-pressure.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from botworker.models import ProcessedUpdate
from botworker.orm import db, update_scope
from botworker.webhook_guard import MAX_BODY_BYTES

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_ID = 2**63 - 1  # the column is a bigint
# An undone claim older than BOT_WEBHOOK_TIMEOUT plus this is abandoned (see the module's docstring).
CLAIM_GRACE_SECONDS = 30
# A re-delivery racing the request that handles the update waits this long for that one to end, looking every
# BUSY_RECHECK_SECONDS, before it asks Telegram to send it again later.
BUSY_WAIT_SECONDS = 5.0
BUSY_RECHECK_SECONDS = 0.1
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Everything the bot handles, payments included: Telegram only sends what is listed here.
ALLOWED_UPDATES = [
    "message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member", "chat_member",
]


# --- the dedupe service -----------------------------------------------------------------------------------------
class Claim(enum.Enum):
    TAKEN = "taken"  # this request handles the update
    DONE = "done"  # handled already: drop the re-delivery
    BUSY = "busy"  # another request is handling it, or its claim is not abandoned yet: Telegram must send it again


def processed_update_claim(*, update_id: int) -> Claim:
    """Claim ``update_id`` for handling; an undone claim older than the handling timeout plus
    ``CLAIM_GRACE_SECONDS`` is abandoned and taken over (one process wins: the update re-checks the age)."""
    try:
        ProcessedUpdate.objects.create(update_id=update_id)
    except IntegrityError:
        pass
    else:
        return Claim.TAKEN
    now = timezone.now()
    abandoned = now - timedelta(seconds=settings.BOT_WEBHOOK_TIMEOUT + CLAIM_GRACE_SECONDS)
    if ProcessedUpdate.objects.filter(update_id=update_id, done=False, processed_at__lt=abandoned).update(
            processed_at=now):
        logger.warning("update %s: an earlier handling never ended (un-claim failed or its process died); "
                       "handling it now", update_id)
        return Claim.TAKEN
    return Claim.DONE if ProcessedUpdate.objects.filter(update_id=update_id, done=True).exists() else Claim.BUSY


def processed_update_finish(*, update_id: int) -> None:
    """The handling of ``update_id`` has ended: re-deliveries are dropped from now on."""
    ProcessedUpdate.objects.filter(update_id=update_id).update(done=True)


def processed_update_release(*, update_id: int) -> None:
    """Forget that ``update_id`` was claimed (its handling failed), so that Telegram's re-send is handled."""
    ProcessedUpdate.objects.filter(update_id=update_id, done=False).delete()


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


def update_id_valid(value: Any) -> bool:
    """A JSON integer (not a bool, float or string) that fits the column."""
    return type(value) is int and 0 <= value <= MAX_UPDATE_ID


def _parse(body: bytes, bot) -> Any:
    """The update in ``body``, or None when it is not one."""
    from aiogram.types import Update
    from pydantic import ValidationError

    try:
        data = json.loads(body)
    except ValueError:  # not JSON, not UTF-8, or a number too long to read
        return None
    if not isinstance(data, dict) or not update_id_valid(data.get("update_id")):
        return None
    try:
        return Update.model_validate(data, context={"bot": bot})
    except ValidationError:
        return None


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
    if _declared_length(request) > MAX_BODY_BYTES:  # served without webhook_guard (which refuses it earlier)
        return JsonResponse({"ok": False, "description": "body too large"}, status=413)
    dispatcher, bot = _Runtime.get()
    update = _parse(request.body, bot)
    if update is None:
        return JsonResponse({"ok": False, "description": "not a Telegram update"}, status=400)

    # One connection scope for the claim, the update and the mark (one stale-connection check, one hand-back to
    # the pool); a failed update is released after it, on a connection checked again.
    async with update_scope():
        response = await _claim_and_handle(dispatcher, bot, update)
    return response if response is not None else await _release(update.update_id)


async def _claim_and_handle(dispatcher, bot, update) -> HttpResponse | None:
    """The update claimed, handled and marked done; None when handling failed (to be released)."""
    from botworker.dispatcher import handle_update

    update_id = update.update_id
    try:
        claim = await _claim(update_id)
    except DatabaseFailure as error:
        logger.error("update %s not claimed (database: %s); Telegram sends it again", update_id, type(error).__name__)
        return JsonResponse({"ok": False, "description": "database unavailable"}, status=503)
    if claim is Claim.DONE:
        logger.info("update %s was already handled: dropped", update_id)
        return JsonResponse({"ok": True})
    if claim is Claim.BUSY:
        logger.warning("update %s is still claimed by an unfinished handling: Telegram is asked to send it again",
                       update_id)
        return JsonResponse({"ok": False, "description": "update in progress"}, status=503)
    try:
        async with asyncio.timeout(settings.BOT_WEBHOOK_TIMEOUT):
            await handle_update(dispatcher, bot, update)
    except TimeoutError:
        # Kept as handled (see the module's docstring): it may have done part of its work.
        logger.error("update %s took longer than %ss and was cut off", update_id, settings.BOT_WEBHOOK_TIMEOUT)
    except Exception:
        logger.exception("update %s failed: released for Telegram to send again", update_id)
        return None
    await _finish(update_id)
    return JsonResponse({"ok": True})


async def _claim(update_id: int) -> Claim:
    """Claim the update; while another request is handling it, wait a little for that one to end (then the update
    is done, or released and claimed here) rather than have Telegram re-send it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_WAIT_SECONDS
    while True:
        claim = await db(processed_update_claim, update_id=update_id)
        if claim is not Claim.BUSY or loop.time() >= deadline:
            return claim
        await asyncio.sleep(BUSY_RECHECK_SECONDS)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


async def _finish(update_id: int) -> None:
    try:
        await db(processed_update_finish, update_id=update_id)
    except DatabaseFailure:
        # Handled all the same; a re-send takes the claim over once it is abandoned and handles it again (keyed).
        logger.exception("update %s was handled but its claim could not be marked done", update_id)


async def _release(update_id: int) -> HttpResponse:
    """Un-claim a failed update and answer 500, so Telegram re-sends it (it re-sends what is not answered 2xx)."""
    try:
        # Through ``db``: stale connections (the failure may have broken this thread's one) are replaced first.
        await db(processed_update_release, update_id=update_id)
    except DatabaseFailure:
        logger.exception("could not release update %s; a re-send is handled once its claim is abandoned "
                         "(after %ss)", update_id, settings.BOT_WEBHOOK_TIMEOUT + CLAIM_GRACE_SECONDS)
    return JsonResponse({"ok": False, "description": "update failed"}, status=500)
