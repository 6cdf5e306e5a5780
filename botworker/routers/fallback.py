"""The last router: whatever no feature router took. Every callback is answered (no endless spinner)."""

import logging

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from accounts.models import User
from billing.selectors import balance_get
from botworker import texts
from botworker.keyboards import main_menu_keyboard
from botworker.orm import db

logger = logging.getLogger(__name__)


router = Router(name="fallback")


@router.callback_query()
async def on_unknown_callback(callback: CallbackQuery, db_user: User) -> None:
    logger.warning("Unknown callback data %r from user %s", callback.data, callback.from_user.id)
    await callback.answer(texts.unknown_callback(), show_alert=True)
    if callback.message:
        balance = await db(balance_get, user=db_user)
        await callback.message.answer(texts.main_menu_title(), reply_markup=main_menu_keyboard(balance=balance))


@router.message()
async def on_unexpected_message(message: Message, db_user: User) -> None:
    balance = await db(balance_get, user=db_user)
    await message.answer(texts.unknown_message(), reply_markup=main_menu_keyboard(balance=balance))
