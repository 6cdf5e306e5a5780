"""``manage.py runbot``: the bot worker, long polling (``botworker.polling``)."""

import asyncio
import re
from contextlib import ExitStack

from django.conf import settings
from django.core.management.base import CommandError

from accounts.management.base import ProjectCommand
from botworker.orm import keep_connections
from botworker.poller_lock import PollerAlreadyRunning, PollerLock, poller_lock

# "<bot id>:<secret>", as @BotFather gives it (the shape aiogram's validate_token accepts).
TOKEN_SHAPE = re.compile(r"^\d+:\S+$")


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
        keep_connections(settings.BOT_CONN_MAX_AGE, health_checks=settings.BOT_CONN_HEALTH_CHECKS)
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

        from botworker import polling
        from botworker.dispatcher import create_bot

        bot = create_bot(token)
        try:
            try:
                me = await bot.get_me()
                await polling.refuse_while_webhook_set(bot)
            except TelegramUnauthorizedError:
                raise CommandError("Telegram refused BOT_TOKEN (401 Unauthorized): check the token.") from None
            except TelegramAPIError as error:
                raise CommandError(f"Cannot reach the Bot API at {settings.BOT_API_URL}: {error}") from None
            except polling.WebhookIsSet as webhook:
                raise CommandError(
                    f"A webhook is set for @{me.username} ({webhook.url}); polling would take its updates. "
                    "Remove the webhook (deleteWebhook, without dropping updates) or run the webhook server instead."
                ) from None
            self.stdout.write(f"Polling as @{me.username} via {settings.BOT_API_URL}. Stop with Ctrl+C.")
            lost = await polling.poll_holding_lock(bot, lock=lock, lock_check_interval=lock_check_interval,
                                                   polling_timeout=polling_timeout)
        finally:
            await bot.session.close()
        if lost:
            raise CommandError(
                "Stopped polling: the single-poller lock was lost (database restart) and another runbot holds it now."
            )
