"""Building the bot and its dispatcher. Nothing here talks to Telegram until polling starts.

    bot = create_bot()                     # settings.BOT_TOKEN, settings.BOT_API_URL
    dp = create_dispatcher()
    await dp.start_polling(bot, allowed_updates=allowed_updates(dp))
"""

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import BotCommand, ErrorEvent
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.languages import language_for
from accounts.services import user_mark_bot_blocked
from botworker import texts
from botworker.middlewares import DatabaseConnectionMiddleware, UserMiddleware
from botworker.orm import db
from botworker.routers import fallback_router, feature_routers
from botworker.session import RetryMiddleware
from botworker.storage import DatabaseStorage

logger = logging.getLogger(__name__)

# Payments and buttons must never be filtered out by a narrower guess from the registered handlers.
REQUIRED_UPDATES = ("message", "callback_query", "pre_checkout_query")
# How long a stopping worker lets the updates in hand finish before closing the session.
SHUTDOWN_GRACE_SECONDS = 30


def create_bot(token: str | None = None, *, api_url: str | None = None, retry: bool = True) -> Bot:
    """A Bot on the configured Bot API server, HTML by default; ``retry`` waits out 429s and 5xx answers
    (senders that pace themselves and must not resend, such as broadcasts, turn it off)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url or settings.BOT_API_URL))
    if retry:
        session.middleware(RetryMiddleware())
    return Bot(
        token if token is not None else settings.BOT_TOKEN,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher() -> Dispatcher:
    dp = Dispatcher(storage=DatabaseStorage())
    # The connection scope must enclose aiogram's FSM middleware, which reads the state before any handler.
    dp.update.outer_middleware.unregister(dp.fsm)
    dp.update.outer_middleware(DatabaseConnectionMiddleware())
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(UserMiddleware())
    dp.include_routers(*feature_routers(), fallback_router())
    dp.errors.register(on_error)
    dp.shutdown.register(finish_updates_in_hand)
    return dp


async def set_bot_commands(bot: Bot) -> None:
    """The command lists Telegram shows beside the input field (not fatal when Telegram refuses): the default
    one in Russian, and an English one that Telegram shows to users whose app language is English."""
    with translation.override(settings.LANGUAGE_CODE):
        await _quietly(bot.set_my_commands(bot_commands()))
    with translation.override("en"):
        await _quietly(bot.set_my_commands(bot_commands(), language_code="en"))


def bot_commands() -> list[BotCommand]:
    return [
        BotCommand(command="start", description=_("Главное меню")),
        BotCommand(command="balance", description=_("Баланс и пополнение")),
        BotCommand(command="promo", description=_("Ввести промокод")),
        BotCommand(command="help", description=_("Помощь")),
        BotCommand(command="paysupport", description=_("Вопросы об оплате")),
    ]


def allowed_updates(dp: Dispatcher) -> list[str]:
    return sorted(set(dp.resolve_used_update_types()) | set(REQUIRED_UPDATES))


async def on_error(event: ErrorEvent, bot: Bot) -> bool:
    """A handler failed: log it with its traceback, apologise to the user, keep the worker running."""
    update = event.update
    user = getattr(update.event, "from_user", None)
    if isinstance(event.exception, TelegramForbiddenError) and user is not None:
        # The user blocked the bot while we answered: nothing to apologise to, just remember it.
        logger.info("User %s blocked the bot: %s", user.id, event.exception)
        await db(user_mark_bot_blocked, telegram_id=user.id)
        return True
    logger.error("Update %s failed: %r", update.update_id, event.exception, exc_info=event.exception)
    # Errors are handled outside the user middleware, so its language override has ended by now.
    with translation.override(language_for(getattr(user, "language_code", None))):
        await _apologise(update, bot)
    return True


async def _apologise(update, bot: Bot) -> None:
    if update.pre_checkout_query:
        await _quietly(update.pre_checkout_query.answer(ok=False, error_message=texts.apology()))
    elif update.callback_query:
        # The handler may have answered the callback already; the apology message goes out either way.
        await _quietly(update.callback_query.answer())
        if update.callback_query.message:
            await _quietly(bot.send_message(update.callback_query.message.chat.id, texts.apology()))
    elif update.message:
        await _quietly(bot.send_message(update.message.chat.id, texts.apology()))


async def _quietly(request) -> None:
    try:
        await request
    except TelegramAPIError as error:
        logger.warning("Bot API request failed: %s", error)


async def finish_updates_in_hand(dispatcher: Dispatcher) -> None:
    """On shutdown, let the updates already being handled finish before the session closes."""
    pending = [task for task in dispatcher._handle_update_tasks if not task.done()]
    if pending:
        logger.info("Finishing %s update(s) in hand before stopping", len(pending))
        await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_SECONDS)
