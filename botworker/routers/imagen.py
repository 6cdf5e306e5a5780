"""Imagen 4 "📝 По описанию": an image from a description alone, without an avatar (upstream-bot.md §7.2).

Description (3-2000 characters) -> one of four aspect ratios -> one image. Charged when the job is queued (a double
tap on a ratio charges once: the request's one-time token), refunded if it fails; the image arrives as the avatar
generations' do (the same job pipeline) and stays in the gallery labelled "Imagen 4"."""

from __future__ import annotations

from html import escape
from uuid import uuid4

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from billing.selectors import balance_get
from botworker import generation_requests
from botworker.callbacks import ImagenCb
from botworker.keyboards import coins, main_menu_button, top_up_button
from botworker.orm import db
from generations import services
from generations.exceptions import InvalidInput
from promocodes.selectors import discount_price_get

# Labels marked for the catalogue here, translated when the keyboard is built.
RATIO_LABELS = {"9:16": gettext_noop("📺 Сторис 9:16"), "1:1": gettext_noop("🔲 Квадрат 1:1"),
                "16:9": gettext_noop("🎬 Кино 16:9"), "3:4": gettext_noop("📱 Портрет 3:4")}


class ImagenFlow(StatesGroup):
    prompt = State()


router = Router(name="imagen")


def _ratio_button(ratio: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_(RATIO_LABELS[ratio]),
                                callback_data=ImagenCb(action="ratio", value=ratio.replace(":", "x")).pack())


@router.callback_query(ImagenCb.filter(F.action == "start"))
async def start(callback: CallbackQuery, state: FSMContext, db_user: User) -> None:
    await state.clear()
    await callback.answer()
    balance = await db(balance_get, user=db_user)
    offer = await db(discount_price_get, user=db_user, price=settings.IMAGEN4_GENERATION_COST)
    text = _("📝 <b>Изображение по описанию</b> (Imagen 4)\n\nЦена: {price} монет за изображение\n"
             "Ваш баланс: {balance} монет").format(price=coins(offer.price), balance=coins(balance))
    if balance < offer.price:
        await callback.message.answer(
            text + "\n\n" + _("❗ Недостаточно монет для генерации."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[top_up_button()], [main_menu_button()]]))
        return
    await state.set_state(ImagenFlow.prompt)
    await callback.message.answer(
        text + "\n\n" + _("✍️ Опишите изображение (от {min} до {max} символов), например: "
                          "«маяк на скале во время шторма, масляная живопись».").format(
            min=services.IMAGEN4_PROMPT_MIN, max=services.IMAGEN4_PROMPT_MAX),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[main_menu_button()]]))


@router.message(ImagenFlow.prompt, F.text)
async def got_prompt(message: Message, state: FSMContext) -> None:
    try:
        prompt = services.imagen_prompt_clean(prompt=message.text or "")
    except InvalidInput:
        await message.answer(_("Описание должно быть от {min} до {max} символов. Попробуйте ещё раз:").format(
            min=services.IMAGEN4_PROMPT_MIN, max=services.IMAGEN4_PROMPT_MAX))
        return
    await state.set_state(None)
    # A one-time token of this request: a double tap on a ratio creates (and charges) one generation.
    await state.update_data(imagen_prompt=prompt, request_token=uuid4().hex)
    rows = [[_ratio_button(ratio)] for ratio in services.IMAGEN4_ASPECT_RATIOS]
    await message.answer(_("Запрос: <i>{prompt}</i>").format(prompt=escape(prompt[:300])) + "\n\n"
                         + _("📐 Выберите формат:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(ImagenCb.filter(F.action == "ratio"))
async def ratio_chosen(callback: CallbackQuery, callback_data: ImagenCb, state: FSMContext, db_user: User) -> None:
    data = await state.get_data()
    ratio = callback_data.value.replace("x", ":")
    if ratio not in services.IMAGEN4_ASPECT_RATIOS or not data.get("imagen_prompt"):
        await callback.answer(_("Начните заново: опишите изображение."), show_alert=True)
        return
    await generation_requests.create(callback, db_user, lambda: db(
        services.imagen_generation_create, user=db_user, prompt=data["imagen_prompt"], aspect_ratio=ratio,
        num_images=1, request_token=data.get("request_token")))

