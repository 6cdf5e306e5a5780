"""Switch the bot to webhook mode: Telegram POSTs updates to this site's secret webhook path.

    python manage.py set_webhook --url https://bot.example.com

The secret path and the secret token come from BOT_WEBHOOK_SECRET. Updates that are waiting are kept (never
dropped). While a webhook is set, `runbot` refuses to poll; `delete_webhook` switches back.
"""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from botworker.webhook import webhook_secret_valid, webhook_url


async def _set_webhook(url: str, max_connections: int) -> None:
    from botworker.dispatcher import allowed_updates, create_bot, create_dispatcher, set_bot_commands

    bot = create_bot()
    try:
        await bot.set_webhook(url=url, secret_token=settings.BOT_WEBHOOK_SECRET,
                              allowed_updates=allowed_updates(create_dispatcher()),
                              max_connections=max_connections, drop_pending_updates=False)
        await set_bot_commands(bot)  # what runbot does at start; no runbot runs in webhook mode
    finally:
        await bot.session.close()


class Command(BaseCommand):
    help = "Point Telegram at this site's webhook endpoint (needs BOT_TOKEN and BOT_WEBHOOK_SECRET)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True,
                            help="Public https base URL of the web processes, e.g. https://bot.example.com")
        parser.add_argument("--max-connections", type=int, default=40,
                            help="Parallel connections Telegram may open (1-100, default 40).")

    def handle(self, *args, url: str, max_connections: int, **options):
        if not settings.BOT_TOKEN:
            raise CommandError("BOT_TOKEN is not set.")
        if not webhook_secret_valid(settings.BOT_WEBHOOK_SECRET):
            raise CommandError("BOT_WEBHOOK_SECRET must be set: 1-256 characters of A-Z, a-z, 0-9, _ and -.")
        if not 1 <= max_connections <= 100:
            raise CommandError("--max-connections must be between 1 and 100.")
        try:
            full_url = webhook_url(url)
        except ValueError as exc:
            raise CommandError(f"--url: {exc}") from exc
        try:
            asyncio.run(_set_webhook(full_url, max_connections))
        except Exception as exc:  # the Bot API's or the network's error, as one line
            raise CommandError(f"Telegram refused the webhook: {exc}".splitlines()[0]) from exc
        shown = full_url.rsplit("/", 2)[0] + "/…/"
        self.stdout.write(self.style.SUCCESS(f"Webhook set: {shown} (secret path hidden). Pending updates kept."))
