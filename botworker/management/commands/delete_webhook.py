"""Switch the bot back to polling: remove the webhook, keeping the updates that are waiting.

    python manage.py delete_webhook
"""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


async def _delete_webhook() -> None:
    from botworker.dispatcher import create_bot

    bot = create_bot()
    try:
        await bot.delete_webhook(drop_pending_updates=False)
    finally:
        await bot.session.close()


class Command(BaseCommand):
    help = "Remove the bot's webhook (pending updates are kept); then `runbot` can poll."

    def handle(self, *args, **options):
        if not settings.BOT_TOKEN:
            raise CommandError("BOT_TOKEN is not set.")
        try:
            asyncio.run(_delete_webhook())
        except Exception as exc:
            raise CommandError(f"Telegram refused to delete the webhook: {exc}".splitlines()[0]) from exc
        self.stdout.write(self.style.SUCCESS("Webhook deleted; pending updates kept. Start polling with runbot."))
