"""Dispatcher middlewares: fresh database connections around each update, and the user behind it.

``UserMiddleware`` upserts the Telegram user through ``accounts.services`` and hands handlers the row as
``db_user``, read in one query with the user's conversation state (given to the FSM storage for this update, see
``botworker.storage``) and balance: ``db_balance`` is the balance as it was when the update arrived, for screens
that show it (a handler that moves money reads it again). A user blocked by an operator gets one short notice and
nothing else (payments already made still go through: Telegram has taken the Stars, so they must be credited or refunded). Handlers run with the user's
language active (``accounts.languages.language_for``): English for ``en*``, Russian otherwise.
"""

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser
from django.utils import translation

from accounts.languages import language_for
from accounts.services import user_upsert_from_telegram
from botworker import texts
from botworker.orm import db, update_scope
from botworker.storage import preload_state, reset_preloaded_state

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseConnectionMiddleware(BaseMiddleware):
    """Closes stale connections on the ORM thread before and after each update (see ``botworker.orm``)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with update_scope():
            return await handler(event, data)


class UserMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        if tg_user is None:
            return await handler(event, data)
        user = await db(
            user_upsert_from_telegram, telegram_id=tg_user.id, first_name=tg_user.first_name,
            last_name=tg_user.last_name, username=tg_user.username, language_code=tg_user.language_code,
            is_premium=tg_user.is_premium, is_bot=tg_user.is_bot, related=("state", "balance"),
        )
        state = getattr(user, "state", None)  # read with the user: None when there is no row
        balance = getattr(user, "balance", None)
        token = preload_state(tg_user.id, state.state_data if state is not None else None)
        try:
            return await self._handle(handler, event, data, user, balance.coins if balance else Decimal(0))
        finally:
            reset_preloaded_state(token)

    @staticmethod
    async def _handle(handler: Handler, event: TelegramObject, data: dict[str, Any], user, balance: Decimal) -> Any:
        # The override lives in this update's context, so texts rendered in ``sync_to_async`` threads (which
        # inherit the context) and concurrent updates of other users each see their own language.
        with translation.override(language_for(user.language_code)):
            if user.is_blocked and not _is_payment_service_message(event):
                logger.info("Ignoring an update from blocked user %s", user.telegram_id)
                await _notify_blocked(event, data["bot"])
                return None
            data["db_user"] = user
            data["db_balance"] = balance
            return await handler(event, data)


def _is_payment_service_message(update: TelegramObject) -> bool:
    message = getattr(update, "message", None)
    return message is not None and bool(message.successful_payment or message.refunded_payment)


async def _notify_blocked(update: Update, bot: Bot) -> None:
    try:
        if update.callback_query:
            await update.callback_query.answer(texts.blocked_notice(), show_alert=True)
        elif update.pre_checkout_query:
            await update.pre_checkout_query.answer(ok=False, error_message=texts.blocked_notice())
        elif update.message:
            await bot.send_message(update.message.chat.id, texts.blocked_notice())
    except TelegramAPIError as error:
        logger.warning("Could not tell a blocked user so: %s", error)
