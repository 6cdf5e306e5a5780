"""The last router: whatever no feature router took. Every callback is answered (no endless spinner)."""

import logging
from decimal import Decimal

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from botworker import texts
from botworker.keyboards import main_menu_keyboard

logger = logging.getLogger(__name__)


router = Router(name="fallback")


@router.callback_query()
async def on_unknown_callback(callback: CallbackQuery, db_balance: Decimal) -> None:
    logger.warning("Unknown callback data %r from user %s", callback.data, callback.from_user.id)
    await callback.answer(texts.unknown_callback(), show_alert=True)
    if callback.message:
        await callback.message.answer(texts.main_menu_title(), reply_markup=main_menu_keyboard(balance=db_balance))


@router.message()
async def on_unexpected_message(message: Message, db_balance: Decimal) -> None:
    await message.answer(texts.unknown_message(), reply_markup=main_menu_keyboard(balance=db_balance))
