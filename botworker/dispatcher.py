"""Building the bot and its dispatcher. Nothing here talks to Telegram until polling starts.

    bot = create_bot()                     # settings.BOT_TOKEN, settings.BOT_API_URL
    dp = create_dispatcher()               # one per process: the same dispatcher on every call
    await UpdatePoller(bot, dp, allowed_updates=allowed_updates(dp)).run()   # botworker.polling

Errors: the error handler answers what a handler raised, except infrastructure failures (``INFRASTRUCTURE_ERRORS``:
the database, a connection to our own services). Those it leaves unhandled, so aiogram's error middleware re-raises
them out of ``feed_update``: the poller retries the update and the webhook answers 500, instead of counting an
update that did nothing as handled.
"""

import logging
from functools import cache

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.methods import TelegramMethod
from aiogram.types import BotCommand, ErrorEvent, Update
from aiogram.types.update import UpdateTypeLookupError
from django.conf import settings
from django.db import Error as DatabaseFailure
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
from common.telegram_bot import create_bot as common_create_bot

logger = logging.getLogger(__name__)

# Payments and buttons must never be filtered out by a narrower guess from the registered handlers.
REQUIRED_UPDATES = ("message", "callback_query", "pre_checkout_query")
# Failures of our own infrastructure, not of the request: the database (django.db's Error covers DatabaseError,
# OperationalError and InterfaceError) and connections to our own services. The update did nothing for the person,
# so it must be handled again rather than answered with an apology and counted as handled.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (DatabaseFailure, ConnectionError)


def create_bot(token: str | None = None, *, api_url: str | None = None, retry: bool = True) -> Bot:
    """A Bot on the configured Bot API server, HTML by default (``common.telegram_bot``); ``retry`` waits out 429s
    and 5xx answers (senders that pace themselves and must not resend turn it off)."""
    return common_create_bot(token, api_url=api_url, middlewares=[RetryMiddleware()] if retry else [])


@cache
def create_dispatcher() -> Dispatcher:
    """The process's one dispatcher (built on first use): the feature routers are module-level, and aiogram joins a
    router to one parent only."""
    dp = Dispatcher(storage=DatabaseStorage())
    # The connection scope must enclose aiogram's FSM middleware, which reads the state before any handler; the
    # user middleware comes before it, reading the state with the user (so the FSM middleware's read costs nothing).
    dp.update.outer_middleware.unregister(dp.fsm)
    dp.update.outer_middleware(DatabaseConnectionMiddleware())
    dp.update.outer_middleware(UserMiddleware())
    dp.update.outer_middleware(dp.fsm)
    dp.include_routers(*feature_routers(), fallback_router())
    # Infrastructure failures pass the filter by: aiogram's error middleware then re-raises them (UNHANDLED).
    dp.errors.register(on_error, ~ExceptionTypeFilter(*INFRASTRUCTURE_ERRORS))
    return dp


async def handle_update(dp: Dispatcher, bot: Bot, update: Update) -> None:
    """Handle one update as aiogram's polling does (a handler may return the Bot API call to make). Raises what the
    error handler leaves unhandled: the infrastructure failures."""
    result = await dp.feed_update(bot, update)
    if isinstance(result, TelegramMethod):
        await dp.silent_call_request(bot=bot, result=result)


async def handle_update_once(payload: dict) -> None:
    """Handle an update given as Telegram's JSON with a bot and dispatcher of its own (an operator's re-run of a
    failed update, from a task); raises what ``handle_update`` raises."""
    bot = create_bot()
    try:
        await handle_update(create_dispatcher(), bot, Update.model_validate(payload, context={"bot": bot}))
    finally:
        await bot.session.close()


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
    """A handler failed (not for an infrastructure reason): log it with its traceback, apologise to the user, keep
    the worker running."""
    update = event.update
    user = getattr(update.event, "from_user", None)
    if isinstance(event.exception, TelegramForbiddenError) and user is not None:
        # The user blocked the bot while we answered: nothing to apologise to, just remember it.
        logger.info("User %s blocked the bot: %s", user.id, event.exception)
        await db(user_mark_bot_blocked, telegram_id=user.id)
        return True
    logger.error("Update %s failed: %r", update.update_id, event.exception, exc_info=event.exception)
    await apologise(update, bot)
    return True


async def apologise(update: Update, bot: Bot) -> None:
    """Tell the person behind ``update`` that it failed, in their Telegram language (errors are handled outside
    the user middleware, so its language override has ended by then). Bot API errors are only logged."""
    try:
        user = getattr(update.event, "from_user", None)
    except UpdateTypeLookupError:  # a kind of update this aiogram does not know: nobody to answer
        return
    with translation.override(language_for(getattr(user, "language_code", None))):
        await _apologise(update, bot)


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

