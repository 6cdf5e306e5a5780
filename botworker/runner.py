"""What ``manage.py runbot`` runs: the polling worker, from the single-poller lock to the last update.

    run_polling(token, polling_timeout=30, lock_check_interval=20, say=print)

It takes the single-poller lock (``botworker.poller_lock``), checks the token with Telegram, refuses while a
webhook is set (polling would take its updates), then polls (``botworker.polling.UpdatePoller``) until SIGTERM or
SIGINT, checking every ``lock_check_interval`` seconds that it still holds the lock. Never drops pending updates (no
``deleteWebhook(drop_pending_updates=True)``): payments may be among them.

Raises ``PollingRefused`` when it cannot start and ``PollerLockLost`` when it stopped because another process took
the lock; their messages are for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from django.conf import settings

from botworker.dispatcher import allowed_updates, create_bot, create_dispatcher, set_bot_commands
from botworker.orm import keep_connections
from botworker.exceptions import PollerAlreadyRunning, PollerLockLost, PollingRefused, WebhookIsSet
from botworker.poller_lock import LockState, PollerLock, poller_lock
from botworker.polling import UpdatePoller

logger = logging.getLogger(__name__)

UNREACHABLE_RECHECK = 2.0  # seconds: while the database is down, re-take the lock as soon as it is back


def run_polling(token: str, *, polling_timeout: int, lock_check_interval: float, say: Callable[[str], None]) -> None:
    """Poll as the bot of ``token`` (already checked for its shape) until stopped; ``say`` prints for the operator."""
    keep_connections(settings.BOT_CONN_MAX_AGE, health_checks=settings.BOT_CONN_HEALTH_CHECKS)
    with ExitStack() as stack:
        bot_id = int(token.split(":")[0])  # the token starts with the bot's id, as aiogram's Bot.id reads it
        try:
            lock = stack.enter_context(poller_lock(bot_id))
        except PollerAlreadyRunning as error:
            raise PollingRefused(f"{error} Stop it first: two pollers steal each other's updates.") from None
        try:
            asyncio.run(_run(token, polling_timeout, lock, lock_check_interval, say))
        except KeyboardInterrupt:
            pass  # interrupted before polling started; nothing in hand


async def _run(token: str, polling_timeout: int, lock: PollerLock, lock_check_interval: float,
               say: Callable[[str], None]) -> None:
    bot = create_bot(token)
    try:
        try:
            me = await bot.get_me()
            await refuse_while_webhook_set(bot)
        except TelegramUnauthorizedError:
            raise PollingRefused("Telegram refused BOT_TOKEN (401 Unauthorized): check the token.") from None
        except TelegramAPIError as error:
            raise PollingRefused(f"Cannot reach the Bot API at {settings.BOT_API_URL}: {error}") from None
        except WebhookIsSet as webhook:
            raise PollingRefused(
                f"A webhook is set for @{me.username} ({webhook.url}); polling would take its updates. "
                "Remove the webhook (deleteWebhook, without dropping updates) or run the webhook server instead."
            ) from None
        say(f"Polling as @{me.username} via {settings.BOT_API_URL}. Stop with Ctrl+C.")
        lost = await poll_holding_lock(bot, lock=lock, lock_check_interval=lock_check_interval,
                                       polling_timeout=polling_timeout)
    finally:
        await bot.session.close()
    if lost:
        raise PollerLockLost(
            "Stopped polling: the single-poller lock was lost (database restart) and another runbot holds it now."
        )


async def refuse_while_webhook_set(bot: Bot) -> None:
    """Polling would take the webhook's updates: raises ``WebhookIsSet`` while one is set."""
    webhook = await bot.get_webhook_info()
    if webhook.url:
        raise WebhookIsSet(webhook.url)


async def poll_holding_lock(bot: Bot, *, lock: PollerLock, lock_check_interval: float, polling_timeout: int,
                            handle_signals: bool = True) -> bool:
    """Poll until stopped (SIGTERM/SIGINT) or until the single-poller lock is lost; True when it was lost."""
    dp = create_dispatcher()
    await set_bot_commands(bot)
    poller = UpdatePoller(bot, dp, polling_timeout=polling_timeout, allowed_updates=allowed_updates(dp))
    lost = asyncio.Event()
    watcher = asyncio.create_task(watch_lock(lock, lock_check_interval, poller, lost))
    try:
        await poller.run(handle_signals=handle_signals)
    finally:
        watcher.cancel()
    return lost.is_set()


async def watch_lock(lock: PollerLock, interval: float, poller: UpdatePoller, lost: asyncio.Event) -> None:
    """Stops polling once another process holds the lock: two pollers must never run on."""
    while True:
        await asyncio.sleep(interval)
        # In a thread: reconnecting to a database that is coming back may block for a while.
        state = await asyncio.to_thread(lock.check)
        while state is LockState.UNKNOWN:
            await asyncio.sleep(min(interval, UNREACHABLE_RECHECK))
            state = await asyncio.to_thread(lock.check)
        if state is LockState.LOST:
            logger.error("Another runbot took the single-poller lock after the database session was lost; "
                         "stopping polling.")
            lost.set()
            poller.stop()
            return
