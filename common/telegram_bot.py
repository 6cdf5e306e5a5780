"""The one way to build an aiogram ``Bot`` on the configured Bot API server, for the bot worker and for the
apps that send through aiogram from tasks (broadcasts). It imports no app of ours, so every layer may use it."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from django.conf import settings


def create_bot(token: str | None = None, *, api_url: str | None = None,
               middlewares: Iterable[BaseRequestMiddleware] = ()) -> Bot:
    """A Bot on ``api_url`` (default ``settings.BOT_API_URL``) with ``token`` (default ``settings.BOT_TOKEN``),
    HTML by default, its session's requests passing through ``middlewares``."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url or settings.BOT_API_URL))
    for middleware in middlewares:
        session.middleware(middleware)
    return Bot(
        token if token is not None else settings.BOT_TOKEN,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
