"""The task that sends operator alerts (see ``common.alerts``, which enqueues it). Imports no app of ours."""

from __future__ import annotations

import asyncio
import logging

from aiogram.exceptions import TelegramAPIError
from django.conf import settings
from django_tasks import task

from common.telegram_bot import create_bot

logger = logging.getLogger(__name__)


async def _send_to_operators(text: str) -> int:
    bot = create_bot()
    sent = 0
    try:
        for chat_id in settings.ADMIN_IDS:
            try:
                await bot.send_message(chat_id, text, parse_mode=None)
            except TelegramAPIError as error:  # one operator's chat must not keep the others uninformed
                logger.warning("operator alert not delivered to %s: %s", chat_id, error)
            else:
                sent += 1
    finally:
        await bot.session.close()
    return sent


# Before any other waiting task: an alert about a backed-up queue must not wait at its end.
@task(priority=100)
def operator_alert_send(key: str, text: str) -> int:
    """Send one alert to every id in ``ADMIN_IDS``; returns to how many it went (see ``common.alerts``)."""
    if not settings.BOT_TOKEN:
        logger.warning("operator alert %s not sent: BOT_TOKEN is not set: %s", key, text)
        return 0
    return asyncio.run(_send_to_operators(text))
