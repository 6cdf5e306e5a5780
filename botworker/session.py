"""A Bot API request middleware that waits out flood limits (429 retry_after) and server errors (5xx).

Without it one 429 during a busy minute turns into a lost reply. ``getUpdates`` is left alone: aiogram's polling
loop has its own backoff.
"""

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

logger = logging.getLogger(__name__)

# aiogram parses every answer as ``Response[<the method's result type>]``, and pydantic keeps such parametrised
# models only weakly: unless something holds them, each Bot API call builds the model class again (~10 % of the
# bot's event loop in a py-spy profile of bench/bot_throughput). The bot's few result types are held here.
_RESPONSE_TYPES: dict = {}


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(self, *, attempts: int = 5, max_wait: float = 60.0, server_error_delay: float = 0.5):
        self.attempts = attempts
        self.max_wait = max_wait
        self.server_error_delay = server_error_delay

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__returning__ not in _RESPONSE_TYPES:
            _RESPONSE_TYPES[method.__returning__] = Response[method.__returning__]
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self.attempts or error.retry_after > self.max_wait:
                    raise
                delay = error.retry_after
                logger.warning("Bot API flood limit on %s: waiting %ss (attempt %s)", method.__api_method__,
                               delay, attempt)
            except TelegramServerError as error:
                if attempt == self.attempts:
                    raise
                delay = min(self.server_error_delay * 2 ** (attempt - 1), self.max_wait)
                logger.warning("Bot API server error on %s: %s; retrying in %.1fs", method.__api_method__,
                               error, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
