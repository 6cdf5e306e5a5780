"""``manage.py runbot``: the bot worker, long polling."""

import asyncio
import logging
import re
from contextlib import ExitStack

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

from accounts.management.base import ProjectCommand
from botworker.poller_lock import LockState, PollerAlreadyRunning, PollerLock, poller_lock

# "<bot id>:<secret>", as @BotFather gives it (the shape aiogram's validate_token accepts).
TOKEN_SHAPE = re.compile(r"^\d+:\S+$")
UNREACHABLE_RECHECK = 2.0  # seconds: while the database is down, re-take the lock as soon as it is back

logger = logging.getLogger("botworker.runbot")


class Command(ProjectCommand):
    help = (
        "Run the Telegram bot with long polling (BOT_TOKEN, BOT_API_URL). Stops gracefully on SIGINT/SIGTERM. "
        "Refuses to start while a webhook is set or another runbot polls the same bot."
    )

    def add_arguments(self, parser):
        parser.add_argument("--polling-timeout", type=int, default=30, help="Long-polling wait, seconds.")
        parser.add_argument("--lock-check-interval", type=float, default=20,
                            help="Seconds between checks that this worker still holds the single-poller lock.")

    def handle(self, *args, polling_timeout: int, lock_check_interval: float, **options):
        token = settings.BOT_TOKEN
        if not token:
            raise CommandError("BOT_TOKEN is not set: put the token from @BotFather in the environment or .env.")
        if not TOKEN_SHAPE.match(token):
            raise CommandError("BOT_TOKEN is malformed: expected '<digits>:<secret>' as given by @BotFather.")
        _never_keep_connections()
        with ExitStack() as stack:
            bot_id = int(token.split(":")[0])  # the token starts with the bot's id, as aiogram's Bot.id reads it
            try:
                lock = stack.enter_context(poller_lock(bot_id))
            except PollerAlreadyRunning as error:
                raise CommandError(f"{error} Stop it first: two pollers steal each other's updates.") from None
            try:
                asyncio.run(self.run(token, polling_timeout, lock, lock_check_interval))
            except KeyboardInterrupt:
                pass  # interrupted before polling started; nothing in hand
        self.stdout.write("Bot stopped.")

    async def run(self, token: str, polling_timeout: int, lock: PollerLock, lock_check_interval: float) -> None:
        # aiogram takes seconds to import: imported here, so that a configuration error is reported at once.
        from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

        from botworker.dispatcher import create_bot

        bot = create_bot(token)
        try:
            try:
                me = await bot.get_me()
            except TelegramUnauthorizedError:
                raise CommandError("Telegram refused BOT_TOKEN (401 Unauthorized): check the token.") from None
            except TelegramAPIError as error:
                raise CommandError(f"Cannot reach the Bot API at {settings.BOT_API_URL}: {error}") from None
            webhook = await bot.get_webhook_info()
            if webhook.url:
                raise CommandError(
                    f"A webhook is set for @{me.username} ({webhook.url}); polling would take its updates. "
                    "Remove the webhook (deleteWebhook, without dropping updates) or run the webhook server instead."
                )
            await self.poll(bot, me.username, polling_timeout, lock, lock_check_interval)
        finally:
            await bot.session.close()

    async def poll(self, bot, username: str, polling_timeout: int, lock: PollerLock,
                   lock_check_interval: float) -> None:
        from botworker.dispatcher import allowed_updates, create_dispatcher, set_bot_commands

        dp = create_dispatcher()
        await set_bot_commands(bot)
        self.stdout.write(f"Polling as @{username} via {settings.BOT_API_URL}. Stop with Ctrl+C.")
        # Never drop pending updates (no deleteWebhook(drop_pending_updates=True)): payments may be among them.
        lost = asyncio.Event()
        watcher = asyncio.create_task(_watch_lock(lock, lock_check_interval, dp, lost))
        try:
            await dp.start_polling(bot, polling_timeout=polling_timeout, allowed_updates=allowed_updates(dp),
                                   handle_signals=True, close_bot_session=True)
        finally:
            watcher.cancel()
        if lost.is_set():
            raise CommandError(
                "Stopped polling: the single-poller lock was lost (database restart) and another runbot holds it now."
            )


async def _watch_lock(lock: PollerLock, interval: float, dp, lost: asyncio.Event) -> None:
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
            await dp.stop_polling()
            return


def _never_keep_connections() -> None:
    """The worker has no request cycle: a kept connection would outlive a database restart."""
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0
        connections[alias].settings_dict["CONN_MAX_AGE"] = 0
