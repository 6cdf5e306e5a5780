"""/start, the main menu and help."""

from decimal import Decimal
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from django.conf import settings
from django.utils.translation import gettext as _

from botworker import texts
from botworker.callbacks import Menu, MenuSection
from botworker.keyboards import back_to_menu_keyboard, main_menu_keyboard


router = Router(name="start")


def welcome_text(first_name: str) -> str:
    return _(
        "👋 Привет, <b>{name}</b>!\n\n"
        "Я создаю ваши фото с помощью ИИ:\n"
        "🎭 обучу персональный аватар по 10–20 вашим фото;\n"
        "🎨 сделаю с ним снимки в любом образе;\n"
        "🖼️ сохраню все работы в галерее.\n\n"
        "Оплата — монетами, баланс пополняется звёздами Telegram ⭐"
    ).format(name=escape(first_name or "") or _("друг"))


def help_text() -> str:
    support = settings.BOT_SUPPORT_CONTACT
    text = _(
        "❓ <b>Помощь</b>\n\n"
        "1. Создайте аватар: загрузите 10–20 своих фото, обучение занимает 15–30 минут.\n"
        "2. Генерируйте фото с аватаром по своему описанию.\n"
        "3. Баланс пополняется звёздами Telegram; промокод вводится командой /promo КОД.\n\n"
        "Команды: /start — главное меню, /balance — баланс, /promo — промокод, /paysupport — вопросы об оплате."
    )
    if support:
        text += "\n\n" + _("Поддержка: {contact}").format(contact=escape(support))
    return text


@router.message(CommandStart())
async def on_start(message: Message, state: FSMContext, db_balance: Decimal) -> None:
    # /start always leaves whatever the user was in the middle of (no query when nothing was going on).
    await state.clear()
    await message.answer(welcome_text(message.from_user.first_name),
                         reply_markup=main_menu_keyboard(balance=db_balance))


@router.callback_query(Menu.filter(F.section == MenuSection.MAIN))
async def on_main_menu(callback: CallbackQuery, state: FSMContext, db_balance: Decimal) -> None:
    await state.clear()
    await callback.answer()
    await callback.message.answer(texts.main_menu_title(), reply_markup=main_menu_keyboard(balance=db_balance))


@router.callback_query(Menu.filter(F.section == MenuSection.HELP))
@router.message(Command("help"))
async def on_help(event: Message | CallbackQuery) -> None:
    if isinstance(event, CallbackQuery):
        await event.answer()
        event = event.message
    await event.answer(help_text(), reply_markup=back_to_menu_keyboard())
