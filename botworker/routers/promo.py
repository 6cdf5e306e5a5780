"""Promo codes: the menu button (then a text message with the code) and ``/promo CODE``."""

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from botworker.callbacks import Menu, MenuSection
from botworker.keyboards import back_to_menu_keyboard, coins, menu_button, top_up_button
from botworker.orm import db
from promocodes import exceptions as promo_errors
from promocodes.models import PromokodeType
from promocodes.services import PromoActivation, promo_code_activate


router = Router(name="promo")


class PromoStates(StatesGroup):
    waiting_code = State()


def ask_code_text() -> str:
    return _("🎁 Введите промокод одним сообщением (или отправьте /promo КОД).")


def refusal_text(error: promo_errors.PromoCodeError) -> str:
    if isinstance(error, promo_errors.PromoCodeNotStarted):
        return _("⏳ Промокод ещё не действует. Он начнёт работать {when}.").format(
            when=timezone.localtime(error.valid_from).strftime("%d.%m.%Y %H:%M"))
    if isinstance(error, promo_errors.PromoCodeExpired):
        return _("❌ Промокод недействителен или истек.")
    if isinstance(error, promo_errors.PromoCodeExhausted):
        return _("❌ Промокод недействителен или истек: все активации уже использованы.")
    if isinstance(error, promo_errors.PromoCodeAlreadyUsed):
        return _("❌ Вы уже использовали этот промокод максимальное количество раз.")
    return _("❌ Промокод не найден.")


def success_text(activation: PromoActivation) -> str:
    promo = activation.promokode
    if promo.type == PromokodeType.BALANCE:
        return _("🎉 Промокод применен!\n\nПолучено: {coins} монет\n💰 Баланс: {balance} монет").format(
            coins=coins(promo.balance_amount), balance=coins(activation.credit.balance_after))
    if promo.type == PromokodeType.BONUS:
        return _("🎉 Промокод применен!\n\nБонус +{coins} монет добавится к вашему следующему пополнению.").format(
            coins=coins(promo.bonus_amount))
    return _("🎉 Промокод применен!\n\nСкидка {percent}% на следующий пакет пополнения.").format(
        percent=coins(promo.discount_percent))


@router.callback_query(Menu.filter(F.section == MenuSection.PROMO))
async def ask_code(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(PromoStates.waiting_code)
    await callback.answer()
    await callback.message.answer(ask_code_text(), reply_markup=back_to_menu_keyboard())


@router.message(Command("promo"))
async def on_promo_command(message: Message, command: CommandObject, state: FSMContext, db_user: User) -> None:
    if not (command.args or "").strip():
        await state.set_state(PromoStates.waiting_code)
        await message.answer(ask_code_text(), reply_markup=back_to_menu_keyboard())
        return
    await activate(message, code=command.args, state=state, db_user=db_user)


# A command is never a code: it goes on to the router that knows it.
@router.message(StateFilter(PromoStates.waiting_code), F.text, ~F.text.startswith("/"))
async def on_code_text(message: Message, state: FSMContext, db_user: User) -> None:
    await activate(message, code=message.text, state=state, db_user=db_user)


async def activate(message: Message, *, code: str, state: FSMContext, db_user: User) -> None:
    code = code.strip()
    try:
        activation = await db(promo_code_activate, user=db_user, code=code)
    except promo_errors.PromoCodeError as error:
        await state.clear()
        retry = [menu_button(MenuSection.PROMO, _("🔁 Другой промокод"))]
        await message.answer(f"{refusal_text(error)}\n<code>{escape(code.upper()[:50])}</code>",
                             reply_markup=back_to_menu_keyboard(retry))
        return
    await state.clear()
    rows = [[top_up_button(_("➕ Пополнить"))]] if activation.promokode.type != PromokodeType.BALANCE else []
    await message.answer(success_text(activation), reply_markup=back_to_menu_keyboard(
        *rows, [menu_button(MenuSection.BALANCE, _("💰 Баланс"))]))
