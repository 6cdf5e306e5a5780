"""Long polling that confirms an update to Telegram only once it is settled (``botworker.runner`` runs it for
``runbot``).

aiogram's own polling moves the ``getUpdates`` offset past an update as soon as it has started handling it,
whatever the outcome: an update whose handling met a database outage was gone. ``UpdatePoller`` instead:

- handles updates concurrently, each in its own task, as they arrive;
- never sends Telegram an offset past an update that is not settled, so updates in hand when the worker stops
  (after ``SHUTDOWN_GRACE_SECONDS``) or dies are sent again on its next start;
- settles an update when the dispatcher handled it (its error handler answers domain errors in the bot), or when
  it still raised an infrastructure failure after ``BOT_UPDATE_ATTEMPTS`` tries with doubling back-off
  (``BOT_UPDATE_RETRY_DELAY``, at most ``BOT_UPDATE_RETRY_MAX_DELAY``) and was then recorded as a ``FailedUpdate``
  for an operator (and logged). While even that record cannot be written, it keeps trying and the offset stays.

Telegram answers ``getUpdates`` at once while an update before the offset is unconfirmed, returning the updates in
hand again (only the new ones are parsed: ``RawGetUpdates``). So with updates in hand the loop asks again only when
they are all settled, when settling has moved the offset past at least half of them (a burst keeps flowing), or
after ``PROBE_INTERVAL`` seconds (new updates get in while a slow one holds the offset).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from django.conf import settings

from botworker.dispatcher import apologise, handle_update
from botworker.failed_updates import error_name, error_text, failed_update_record
from botworker.orm import db

logger = logging.getLogger(__name__)

# How long a stopping worker lets the updates in hand finish before it stops (they stay unconfirmed).
SHUTDOWN_GRACE_SECONDS = 30
# With updates in hand, how long at most until looking for new ones (Telegram answers at once then: see above).
PROBE_INTERVAL = 0.5
# Telegram unreachable: wait this long between getUpdates attempts, as aiogram's polling does.
FETCH_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)


class RawGetUpdates(GetUpdates):
    """``getUpdates`` answered with the updates' JSON: the poller parses only those it does not have yet, and keeps
    the JSON as Telegram sent it for a failed update's record."""

    __returning__: ClassVar[type] = list[dict[str, Any]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    first_delay: float
    max_delay: float

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(attempts=max(1, settings.BOT_UPDATE_ATTEMPTS), first_delay=settings.BOT_UPDATE_RETRY_DELAY,
                   max_delay=settings.BOT_UPDATE_RETRY_MAX_DELAY)

    def delay(self, failures: int) -> float:
        return min(self.first_delay * 2 ** (failures - 1), self.max_delay)


class UpdatePoller:
    """``await UpdatePoller(bot, dp, allowed_updates=...).run()`` until ``stop()`` (or SIGTERM/SIGINT)."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, *, polling_timeout: int = 30,
                 allowed_updates: list[str] | None = None, retry: RetryPolicy | None = None,
                 grace: float = SHUTDOWN_GRACE_SECONDS):
        self.bot, self.dp = bot, dispatcher
        self.polling_timeout = polling_timeout
        self.allowed_updates = allowed_updates
        self.retry = retry or RetryPolicy.from_settings()
        self.grace = grace
        # Every update fetched and not yet confirmed to Telegram, by id: its task says whether it is settled.
        self._in_hand: dict[int, asyncio.Task[bool]] = {}
        self._next_id: int | None = None  # one past the newest update fetched
        self._sent_offset: int | None = None
        self._stop = asyncio.Event()
        self._progress = asyncio.Event()  # set whenever an update in hand is settled

    @property
    def busy(self) -> bool:
        """Some update fetched is still being handled."""
        return any(not task.done() for task in self._in_hand.values())

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, handle_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_signal, sig)
        workflow = {"dispatcher": self.dp, "bots": [self.bot], **self.dp.workflow_data}
        await self.dp.emit_startup(bot=self.bot, **workflow)
        try:
            await self._poll()
        finally:
            try:
                await self._finish_in_hand()
                await self._confirm_settled()
            finally:
                await self.dp.emit_shutdown(bot=self.bot, **workflow)
                if handle_signals:
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        logger.warning("Received %s: stopping after the updates in hand", sig.name)
        self.stop()

    # --- fetching ---------------------------------------------------------------------------------------------
    async def _poll(self) -> None:
        backoff = Backoff(config=FETCH_BACKOFF)
        while not self._stop.is_set():
            try:
                updates = await self._unless_stopped(self._fetch(self._offset(), self.polling_timeout))
            except _Stopped:
                return
            except Exception as error:  # noqa: BLE001 - Telegram unreachable or refusing: keep trying, as aiogram does
                logger.error("Failed to fetch updates - %s: %s; retrying in %.1fs", type(error).__name__,
                             error_text(error), backoff.next_delay)
                with suppress(_Stopped):
                    await self._unless_stopped(backoff.asleep())
                continue
            backoff.reset()
            self._take(updates)
            self._forget_confirmed()
            await self._room_for_more()

    async def _fetch(self, offset: int | None, timeout: int, limit: int | None = None) -> list[dict[str, Any]]:
        method = RawGetUpdates(offset=offset, timeout=timeout, limit=limit, allowed_updates=self.allowed_updates)
        # The request must outlast the long poll (aiogram's own polling does the same).
        request_timeout = int(self.bot.session.timeout + timeout) if self.bot.session.timeout else None
        updates = await self.bot(method, request_timeout=request_timeout)
        self._sent_offset = offset
        return updates

    def _take(self, updates: list[dict[str, Any]]) -> None:
        for raw in updates:
            update_id = raw["update_id"]
            if update_id in self._in_hand:
                continue  # still being handled, or settled but not yet confirmed
            task = asyncio.create_task(self._settle(update_id, raw))
            task.add_done_callback(lambda _: self._progress.set())
            self._in_hand[update_id] = task
            self._next_id = max(self._next_id or 0, update_id + 1)

    async def _room_for_more(self) -> None:
        """Wait until asking Telegram again is worth it (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROBE_INTERVAL
        while not self._stop.is_set():
            self._progress.clear()
            if not self.busy:
                return
            offset = self._offset()
            if offset is not None and 2 * sum(update_id < offset for update_id in self._in_hand) >= len(self._in_hand):
                return
            with suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._progress.wait()
            if loop.time() >= deadline:
                return

    def _offset(self) -> int | None:
        """The oldest update not settled; with none, one past the newest fetched (None before the first)."""
        unsettled = [update_id for update_id, task in self._in_hand.items() if not _settled(task)]
        return min(unsettled) if unsettled else self._next_id

    def _forget_confirmed(self) -> None:
        """Settled updates below the next offset are never returned again: they need no remembering."""
        offset = self._offset()
        if offset is not None:
            for update_id in [i for i in self._in_hand if i < offset]:
                del self._in_hand[update_id]

    async def _unless_stopped(self, awaitable):
        work = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with suppress(asyncio.CancelledError):
            await work
        raise _Stopped

    # --- handling ---------------------------------------------------------------------------------------------
    async def _settle(self, update_id: int, raw: dict[str, Any]) -> bool:
        """Handle the update until it is settled; False when the worker stopped first (it stays unconfirmed)."""
        update: Update | None = None
        failures = 0
        while True:
            try:
                update = update or Update.model_validate(raw, context={"bot": self.bot})
                await handle_update(self.dp, self.bot, update)
            except Exception as error:  # noqa: BLE001 - left unhandled by the error handler: infrastructure
                # An update that cannot even be read will not be read on a second try: straight to the record.
                failures = failures + 1 if update else max(failures + 1, self.retry.attempts)
                if failures >= self.retry.attempts and await self._record(update_id, raw, update, error, failures):
                    return True
                delay = self.retry.delay(failures)
                logger.warning("Update %s failed (attempt %s) - %s: %s; retrying in %.1fs", update_id, failures,
                               error_name(error), error_text(error), delay)
            else:
                if failures:
                    logger.info("Update %s handled after %s failed attempt(s)", update_id, failures)
                return True
            try:
                await self._unless_stopped(asyncio.sleep(delay))
            except _Stopped:
                logger.warning("Update %s is left unconfirmed while stopping: Telegram sends it again on the next "
                               "start", update_id)
                return False

    async def _record(self, update_id: int, raw: dict[str, Any], update: Update | None, error: Exception,
                      failures: int) -> bool:
        """Record the update as failed for an operator; False when that failed too (the database is still down)."""
        update_type = next((key for key in raw if key != "update_id"), "")
        sender = raw.get(update_type) if isinstance(raw.get(update_type), dict) else {}
        user_id = (sender.get("from") or {}).get("id")
        try:
            await db(failed_update_record, update_id=update_id, payload=raw, update_type=update_type,
                     telegram_user_id=user_id if isinstance(user_id, int) else None, error=error, attempts=failures)
        except Exception as record_error:  # noqa: BLE001 - keep the update unconfirmed and try again
            logger.error("Update %s failed %s times and cannot be recorded either (%s: %s); it stays unconfirmed "
                         "and is tried again", update_id, failures, error_name(record_error),
                         error_text(record_error))
            return False
        logger.error("Update %s failed %s times - %s: %s; recorded as a failed update for an operator (admin: "
                     "Bot worker > Failed updates)", update_id, failures, error_name(error), error_text(error))
        # No apology for a payment (the reconciliation credits it; an apology would invite paying again).
        if update is not None and not _is_payment(update):
            try:
                await apologise(update, self.bot)
            except Exception:  # noqa: BLE001 - the update is settled all the same
                logger.exception("Could not apologise for update %s", update_id)
        return True

    async def _finish_in_hand(self) -> None:
        pending = [task for task in self._in_hand.values() if not task.done()]
        if not pending:
            return
        logger.info("Finishing %s update(s) in hand before stopping", len(pending))
        _, late = await asyncio.wait(pending, timeout=self.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _confirm_settled(self) -> None:
        """Tell Telegram which updates are settled, so that the next start does not get them again."""
        offset = self._offset()
        if offset is None or offset == self._sent_offset:
            return
        try:
            # Updates it returns are at or past the offset: not confirmed, the next start gets them.
            await self._fetch(offset, 0, limit=1)
        except Exception as error:  # noqa: BLE001 - they are handled again on the next start, as before
            logger.warning("Could not confirm the settled updates (%s: %s); the next start gets them again",
                           type(error).__name__, error_text(error))


class _Stopped(Exception):
    pass


def _settled(task: asyncio.Task[bool]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None and task.result()


def _is_payment(update: Update) -> bool:
    message = update.message
    return message is not None and bool(message.successful_payment or message.refunded_payment)
