"""Image generation: avatar (the main one by default) -> style template (category -> subcategory -> template) or
a custom prompt -> aspect ratio -> 1-4 images. The price is charged when the job is queued; the images arrive
later as an album (sent by the worker's task), and stay in the gallery."""

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
from botworker.callbacks import AvatarCb, GenCb, ImagenCb, Menu, MenuSection
from botworker.keyboards import coins, main_menu_button, top_up_button
from botworker.orm import db
from generations import selectors, services
from generations.exceptions import NotFound
from promocodes.selectors import discount_price_get, discounted_coins

# Labels marked for the catalogue here, translated when the keyboard is built.
RATIOS = (("1:1", gettext_noop("🔲 Квадрат 1:1")), ("3:4", gettext_noop("📱 Портрет 3:4")),
          ("4:3", gettext_noop("🖼 Альбом 4:3")), ("9:16", gettext_noop("📺 Сторис 9:16")),
          ("16:9", gettext_noop("🎬 Кино 16:9")))


class GenerationFlow(StatesGroup):
    prompt = State()


router = Router(name="generation")


def _image_count(value: str) -> int | None:
    """The number a count button carries (1 to ``MAX_IMAGES_PER_GENERATION`` in ASCII digits), or None: ``0``,
    ``-1``, ``999``, ``abc`` or ``²`` come from no button of ours (or an outdated one) and match no handler."""
    if value.isascii() and value.isdigit() and 1 <= int(value) <= settings.MAX_IMAGES_PER_GENERATION:
        return int(value)
    return None


def _button(text: str, action: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=GenCb(action=action, value=value).pack())


def _imagen_button() -> InlineKeyboardButton:
    """Imagen 4 "by description" (``botworker.routers.imagen``): no avatar needed."""
    return InlineKeyboardButton(text=_("📝 По описанию"), callback_data=ImagenCb(action="start").pack())


def _avatars_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("🎭 Мои аватары"), callback_data=AvatarCb(action="list").pack())


@router.callback_query(Menu.filter(F.section == MenuSection.GENERATE))
@router.callback_query(GenCb.filter(F.action.in_({"start", "back"})))
async def start(callback: CallbackQuery, state: FSMContext, db_user: User) -> None:
    await state.clear()
    await _show_start(callback, state, db_user, avatar_hex=None)


@router.callback_query(GenCb.filter(F.action == "avatar"))
async def choose_avatar(callback: CallbackQuery, callback_data: GenCb, state: FSMContext, db_user: User) -> None:
    await _show_start(callback, state, db_user, avatar_hex=callback_data.value)


async def _show_start(callback: CallbackQuery, state: FSMContext, db_user: User, *, avatar_hex: str | None) -> None:
    avatars = await db(selectors.avatar_ready_list, user=db_user)
    if avatar_hex is not None:
        avatar = next((a for a in avatars if a.pk.hex == avatar_hex), None)
        if avatar is None:
            await callback.answer(_("Аватар не найден или ещё не готов."), show_alert=True)
            return
    else:
        avatar = avatars[0] if avatars else None
    await callback.answer()
    if avatar is None:
        await callback.message.answer(
            _("🎭 Чтобы создавать фото, сначала обучите аватар — это займёт 15–30 минут."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_avatars_button()], [_imagen_button()],
                                                               [main_menu_button()]]))
        return
    await state.update_data(avatar_id=avatar.pk.hex, template_id=None, prompt=None, ratio=None)
    balance = await db(balance_get, user=db_user)
    offer = await db(discount_price_get, user=db_user, price=settings.IMAGE_GENERATION_COST)
    text = _("🎨 <b>Создание фото</b>\n\nАватар: <b>{name}</b>\nЦена: {price} монет за изображение\n"
             "Ваш баланс: {balance} монет").format(name=escape(avatar.name), price=coins(offer.full_price),
                                                   balance=coins(balance))
    if offer.discount_percent:
        text += "\n" + _("🏷 Цена со скидкой {percent}%: {price} монет за изображение").format(
            percent=coins(offer.discount_percent), price=coins(offer.price))
    rows = []
    if balance >= offer.price:
        rows += [[_button(_("🎨 Выбрать стиль"), "categories")], [_button(_("✍️ Свой запрос"), "prompt")]]
    else:
        text += "\n\n" + _("❗ Недостаточно монет для генерации.")
        rows.append([top_up_button()])
    if len(avatars) > 1:
        rows.append([_button(_("🔄 Другой аватар"), "avatars")])
    rows += [[_imagen_button()], [main_menu_button()]]
    await callback.message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "avatars"))
async def list_avatars(callback: CallbackQuery, db_user: User) -> None:
    avatars = await db(selectors.avatar_ready_list, user=db_user)
    await callback.answer()
    rows = [[_button(("⭐ " if a.is_main else "") + a.name, "avatar", a.pk.hex)] for a in avatars]
    rows.append([main_menu_button()])
    await callback.message.answer(_("Выберите аватар:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "categories"))
async def categories(callback: CallbackQuery) -> None:
    items = await db(selectors.style_category_list)
    await callback.answer()
    rows = [[_button(f"{c.icon} {c.name}".strip(), "category", c.pk)] for c in items]
    rows.append([_button(_("◀️ Назад"), "back")])
    await callback.message.answer(_("🎨 Выберите категорию:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "category"))
async def subcategories(callback: CallbackQuery, callback_data: GenCb) -> None:
    items = await db(selectors.style_subcategory_list, category_id=callback_data.value)
    await callback.answer()
    rows = [[_button(s.name, "subcategory", s.pk)] for s in items]
    rows.append([_button(_("◀️ Назад"), "categories")])
    await callback.message.answer(_("Выберите тему:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "subcategory"))
async def templates(callback: CallbackQuery, callback_data: GenCb) -> None:
    items = await db(selectors.style_template_list, subcategory_id=callback_data.value)
    await callback.answer()
    rows = [[_button(t.name, "template", t.pk)] for t in items]
    rows.append([_button(_("◀️ Назад"), "categories")])
    await callback.message.answer(_("Выберите образ:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "template"))
async def template_chosen(callback: CallbackQuery, callback_data: GenCb, state: FSMContext) -> None:
    try:
        template = await db(selectors.style_template_get, template_id=callback_data.value)
    except NotFound:
        await callback.answer(_("Этот стиль больше недоступен."), show_alert=True)
        return
    await state.update_data(template_id=template.pk, prompt=None)
    await callback.answer()
    await _ask_ratio(callback.message, _("Стиль: <b>{name}</b>").format(name=escape(template.name)))


@router.callback_query(GenCb.filter(F.action == "prompt"))
async def ask_prompt(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(GenerationFlow.prompt)
    await callback.answer()
    await callback.message.answer(_("✍️ Опишите, каким должно быть фото (от 5 символов), например: "
                                    "«в деловом костюме на крыше небоскрёба на закате»."),
                                  reply_markup=InlineKeyboardMarkup(inline_keyboard=[[main_menu_button()]]))


@router.message(GenerationFlow.prompt, F.text)
async def got_prompt(message: Message, state: FSMContext) -> None:
    prompt = " ".join((message.text or "").split())
    if not services.PROMPT_MIN <= len(prompt) <= services.PROMPT_MAX:
        await message.answer(_("Описание должно быть от {min} до {max} символов. Попробуйте ещё раз:").format(
            min=services.PROMPT_MIN, max=services.PROMPT_MAX))
        return
    await state.set_state(None)
    await state.update_data(prompt=prompt, template_id=None)
    await _ask_ratio(message, _("Запрос: <i>{prompt}</i>").format(prompt=escape(prompt)))


async def _ask_ratio(message: Message, heading: str) -> None:
    rows = [[_button(_(label), "ratio", ratio.replace(":", "x"))] for ratio, label in RATIOS]
    await message.answer(heading + "\n\n" + _("📐 Выберите формат:"),
                         reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(GenCb.filter(F.action == "ratio"))
async def ratio_chosen(callback: CallbackQuery, callback_data: GenCb, state: FSMContext, db_user: User) -> None:
    ratio = callback_data.value.replace("x", ":")
    if ratio not in services.ASPECT_RATIOS:
        await callback.answer(_("Неизвестный формат."), show_alert=True)
        return
    # A one-time token of this request: a double tap on a count button creates (and charges) one generation.
    await state.update_data(ratio=ratio, request_token=uuid4().hex)
    await callback.answer()
    offer = await db(discount_price_get, user=db_user, price=settings.IMAGE_GENERATION_COST)
    # Each total is rounded as the charge will be (the discount applies to the whole generation).
    row = [_button(f"{n} ({coins(discounted_coins(amount=offer.full_price * n, percent=offer.discount_percent))} 🪙)",
                   "count", str(n))
           for n in range(1, settings.MAX_IMAGES_PER_GENERATION + 1)]
    text = _("🔢 Сколько изображений создать?")
    if offer.discount_percent:
        text += "\n\n" + _("🏷 Цена со скидкой {percent}% — скидка промокода применится к этой генерации.").format(
            percent=coins(offer.discount_percent))
    await callback.message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[row[:2], row[2:]]))


@router.callback_query(GenCb.filter((F.action == "count") & F.value.func(_image_count)))
async def count_chosen(callback: CallbackQuery, callback_data: GenCb, state: FSMContext, db_user: User) -> None:
    data = await state.get_data()
    if not data.get("avatar_id"):  # the main avatar unless the user picked another
        avatars = await db(selectors.avatar_ready_list, user=db_user)
        data["avatar_id"] = avatars[0].pk.hex if avatars else None
    if not data.get("avatar_id") or not data.get("ratio") or not (data.get("template_id") or data.get("prompt")):
        await callback.answer(_("Начните заново: выберите аватар и стиль."), show_alert=True)
        return
    await generation_requests.create(callback, db_user, lambda: db(
        services.generation_create, user=db_user, avatar_id=data["avatar_id"], aspect_ratio=data["ratio"],
        num_images=_image_count(callback_data.value),
        prompt=data.get("prompt") or "", template_id=data.get("template_id"),
        request_token=data.get("request_token")))
    await state.clear()
