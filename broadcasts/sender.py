"""The Telegram side of broadcasts: sends one claimed batch at a steady pace, and the operator's preview.

Called from sync code (the delivery task, the admin) through ``asyncio.run``; no ORM use in here: the claims come
from ``broadcasts.delivery`` and the results go back there, as the plain data of ``broadcasts.types``.

Pacing: message starts are spaced ``1 / BROADCAST_RATE_PER_SECOND`` apart inside the batch's reserved slot, and
sends overlap (a slow answer does not slow the pace). A 429 moves every later start past ``retry_after`` and
the recipient is tried again in a fresh turn (at most ``MAX_RETRY_AFTER`` times) because a 429 means Telegram
did not deliver. A row whose turn would fall after the slot, or whose turn came while the worker was stalled,
goes back to ``pending`` unattempted (see ``Pacer``). Any other error is final: a network error or 5xx may have
delivered, and resending could deliver twice.

A problem that would fail every recipient aborts the batch instead (``BatchResult.abort_reason``; the broadcast
pauses): the photo cannot be read from storage, Telegram refuses the photo itself (400 on sendPhoto about the
photo/file), Telegram refuses the bot itself (401: the token was revoked; 404: no such bot), or an unexpected
error. Rows not yet sent go back to ``pending`` as if never claimed; a row whose
send raised an unexpected error after the request may have been delivered, so it fails (at most once).
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError, TelegramBadRequest, TelegramForbiddenError, TelegramNotFound, TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from broadcasts.conf import send_interval
from broadcasts.exceptions import ContentUnavailable, TelegramConfigError
from broadcasts.models import RecipientStatus
from broadcasts.types import BatchResult, Claim, Content, Outcome, Target
from common.telegram_bot import create_bot

MAX_RETRY_AFTER = 5
# How late a turn may still be taken. Turns are ``interval`` apart on the shared schedule, so any second holds
# the sends of at most (1 + SLOT_TOLERANCE) / interval + 1 turns: with the pace margin (interval = 1 / (0.95 *
# rate)) that stays within the rate for any tolerance under 1 / 0.95 - 1 = 52 ms.
SLOT_TOLERANCE = 0.04
# Float rounding of the turn arithmetic, not time anybody could use.
_EPSILON = 1e-6


def make_bot() -> Bot:
    """A Bot for sending from tasks and the admin, on the configured Bot API server, HTML by default."""
    if not settings.BOT_TOKEN:
        raise TelegramConfigError("BOT_TOKEN is not set.")
    # Without the bot worker's retry middleware: a 429 or 5xx must reach the pacer, which decides whether to resend.
    return create_bot()


# Telegram's answers about the bot itself, not about a chat: every recipient would get the same.
BOT_REFUSED = (TelegramUnauthorizedError, TelegramNotFound)


async def _get_me() -> str:
    bot = make_bot()
    try:
        me = await bot.get_me(request_timeout=10)
    finally:
        await bot.session.close()
    return f"@{me.username}"


def bot_check() -> str:
    """The bot can send: ``BOT_TOKEN`` is set and Telegram answers ``getMe``. Returns the bot's @username; raises
    ``TelegramConfigError`` with the reason otherwise."""
    try:
        return asyncio.run(_get_me())
    except TelegramConfigError:
        raise
    except Exception as error:  # noqa: BLE001  whatever stops getMe (refused token, network) stops a broadcast
        detail = f"{type(error).__name__}: {error}"
        raise TelegramConfigError(f"Telegram does not answer getMe: {detail}", get_me_error=detail) from error


class Pacer:
    """Hands out send turns in the batch's slot of the shared schedule, ``[start_at, start_at + count *
    interval)``: ``interval`` apart, none that would end past the slot, none during a 429 back-off.

    A turn is kept only if it is taken on time. A caller that wakes up more than ``SLOT_TOLERANCE`` after its
    turn (the process stalled: a GC pause, a busy host, SIGSTOP) gives it up, and its row goes back to pending
    unattempted. Sent late, every overdue turn would go out at once, on top of the turns that follow here or in
    the next worker's slot; given up, the sends that do go out stay on the schedule, so no second holds more
    than the rate, stalls included. A worker that starts late loses the turns already past the same way."""

    def __init__(self, *, interval: float, start_at: datetime, count: int):
        # One reading of each clock: slot times are converted in, and the moments of sending out, through it.
        self.wall, self.mono = timezone.now(), time.monotonic()
        offset = (start_at - self.wall).total_seconds()  # negative when the slot began already
        self.interval = interval
        self.next_at = self.mono + max(0.0, offset)
        self.end = self.mono + offset + count * interval + _EPSILON
        self.backoff_until = 0.0

    async def turn(self) -> datetime | None:
        """Wait for the next turn. Returns the moment it was taken (on the schedule's clock), or None when the
        row gets no turn in this slot: the slot is used up, or the caller woke too late for its turn."""
        while True:
            at = max(self.next_at, self.backoff_until, time.monotonic())
            if at + self.interval > self.end:
                return None
            self.next_at = at + self.interval  # taken before sleeping, so concurrent callers get distinct turns
            await asyncio.sleep(at - time.monotonic())
            now = time.monotonic()
            if now > at + SLOT_TOLERANCE:
                return None
            if now >= self.backoff_until:
                return self.wall + timedelta(seconds=now - self.mono)
            # A 429 arrived while we slept: this turn is void, queue again behind the back-off.

    def back_off(self, seconds: float) -> None:
        self.backoff_until = max(self.backoff_until, time.monotonic() + seconds)

    def backoff_deadline(self) -> datetime | None:
        left = self.backoff_until - time.monotonic()
        return timezone.now() + timedelta(seconds=left) if left > 0 else None


def _markup(content: Content) -> InlineKeyboardMarkup | None:
    if not (content.button_text and content.button_url):
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=content.button_text,
                                                                       url=content.button_url)]])


# Telegram's 400s about the photo itself (every recipient would get the same), not about the chat.
PHOTO_REFUSED = re.compile(r"photo|image|file|dimensions|wrong type|web page content", re.IGNORECASE)


def _photo_refused(content: Content, error: TelegramAPIError) -> bool:
    return bool(content.photo_name) and isinstance(error, TelegramBadRequest) and bool(
        PHOTO_REFUSED.search(error.message))


def _photo(content: Content, file_id: str):
    if file_id:
        return file_id
    try:
        with default_storage.open(content.photo_name, "rb") as fh:
            return BufferedInputFile(fh.read(), filename=content.photo_name.rsplit("/", 1)[-1])
    except Exception as error:
        raise ContentUnavailable(f"The photo {content.photo_name} cannot be read: {error}") from error


async def _send(bot: Bot, content: Content, chat_id: int, photo_file_id: str) -> Message:
    if content.photo_name:
        return await bot.send_photo(chat_id, _photo(content, photo_file_id), caption=content.text,
                                    reply_markup=_markup(content))
    return await bot.send_message(chat_id, content.text, reply_markup=_markup(content))


async def _deliver_one(bot: Bot, content: Content, target: Target, pacer: Pacer, result: BatchResult) -> Outcome:
    def unsent() -> Outcome:  # never reached Telegram: pending again, as if never claimed
        return Outcome(target.recipient_id, target.telegram_id, RecipientStatus.PENDING, unclaim=True)

    for _ in range(MAX_RETRY_AFTER + 1):
        if result.abort_reason:
            return unsent()
        sent_at = await pacer.turn()
        if sent_at is None:
            return unsent()
        if result.abort_reason:
            return unsent()
        try:
            message = await _send(bot, content, target.telegram_id, result.photo_file_id or content.photo_file_id)
        except TelegramRetryAfter as error:
            pacer.back_off(error.retry_after)
            continue
        except BOT_REFUSED as error:
            result.abort_reason = f"Telegram refuses the bot: {type(error).__name__}: {error.message}"
            return unsent()
        except TelegramForbiddenError as error:
            status = RecipientStatus.BLOCKED if "blocked" in error.message.lower() else RecipientStatus.FAILED
            return Outcome(target.recipient_id, target.telegram_id, status, error=error.message)
        except TelegramAPIError as error:
            if _photo_refused(content, error):
                result.abort_reason = f"Telegram refuses the photo: {error.message}"
                result.photo_refused = True
                return unsent()
            return Outcome(target.recipient_id, target.telegram_id, RecipientStatus.FAILED,
                           error=f"{type(error).__name__}: {error.message}")
        except ContentUnavailable as error:
            result.abort_reason = str(error)
            return unsent()
        except Exception as error:  # noqa: BLE001  not Telegram's answer: the request may have gone out
            result.abort_reason = f"Unexpected error while sending: {type(error).__name__}: {error}"
            return Outcome(target.recipient_id, target.telegram_id, RecipientStatus.FAILED,
                           error=f"delivery unknown: {type(error).__name__}: {error}"[:500])
        if message.photo and not result.photo_file_id:
            result.photo_file_id = message.photo[-1].file_id
        return Outcome(target.recipient_id, target.telegram_id, RecipientStatus.SENT,
                       message_id=message.message_id, sent_at=sent_at)
    return Outcome(target.recipient_id, target.telegram_id, RecipientStatus.FAILED,
                   error=f"still rate-limited after {MAX_RETRY_AFTER} retries")


async def _deliver(bot: Bot, claim: Claim) -> BatchResult:
    result = BatchResult()
    pacer = Pacer(interval=send_interval(), start_at=claim.start_at, count=len(claim.targets))
    targets = list(claim.targets)
    while claim.content.photo_name and not claim.content.photo_file_id and not result.photo_file_id and targets:
        # Upload the photo once (one recipient at a time until a send succeeds), then reuse Telegram's file_id.
        result.outcomes.append(await _deliver_one(bot, claim.content, targets.pop(0), pacer, result))
    jobs = []
    for target in targets:
        jobs.append(asyncio.create_task(_deliver_one(bot, claim.content, target, pacer, result)))
        await asyncio.sleep(0)  # let the job take its turn now, in order
    result.outcomes.extend(await asyncio.gather(*jobs))
    result.backoff_until = pacer.backoff_deadline()
    return result


class BatchSender:
    """Sends batches from sync code on one event loop and one Bot session (kept-alive connections between
    batches); the caller does its database work between batches, on its own thread."""

    def __init__(self):
        self.bot = make_bot()  # TelegramConfigError before anything is opened

    def __enter__(self) -> "BatchSender":
        self.loop = asyncio.new_event_loop()
        return self

    def send(self, claim: Claim) -> BatchResult:
        return self.loop.run_until_complete(_deliver(self.bot, claim))

    def __exit__(self, *exc) -> None:
        try:
            self.loop.run_until_complete(self.bot.session.close())
        finally:
            self.loop.close()


def send_batch(claim: Claim) -> BatchResult:
    with BatchSender() as sender:
        return sender.send(claim)


async def _preview(content: Content, chat_id: int) -> None:
    bot = make_bot()
    try:
        await _send(bot, content, chat_id, content.photo_file_id)
    finally:
        await bot.session.close()


def send_preview(*, content: Content, chat_id: int) -> None:
    """Send the message to one chat (the operator) as recipients will see it; Telegram errors propagate."""
    asyncio.run(_preview(content, chat_id))
