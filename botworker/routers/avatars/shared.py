"""What the avatar screens share: the wizard's states, the buttons, a few texts, the photo upload screen (the wizard
ends on it, the photo screens come back to it) and the answer to an avatar that is not found."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ErrorEvent, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import User
from billing.selectors import balance_get
from botworker.callbacks import AvatarCb
from botworker.keyboards import coins, main_menu_button, top_up_button
from botworker.orm import db
from generations import selectors
from generations.models import Avatar, AvatarGender


class AvatarWizard(StatesGroup):
    name = State()
    gender = State()
    training_type = State()
    photos = State()
    rename = State()


def avatar_callback(action: str, avatar: Avatar | str = "", index: int = 0) -> str:
    avatar_hex = avatar.pk.hex if isinstance(avatar, Avatar) else avatar
    return AvatarCb(action=action, avatar=avatar_hex, index=index).pack()


def avatar_button(text: str, action: str, avatar: Avatar | str = "", index: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=avatar_callback(action, avatar, index))


def gender_text(gender: str) -> str:
    # "other" is only on avatars adopted from the earlier service (whose first version offered it).
    return {AvatarGender.MALE: _("мужской"), AvatarGender.FEMALE: _("женский")}.get(gender) or _("другой")


def kind_text(avatar: Avatar) -> str:
    return _("стиль") if avatar.training_type == "style" else _("портрет")


async def avatar_not_found(event: ErrorEvent, callback: CallbackQuery) -> None:
    """A screen's error handler for ``NotFound`` on a button. Another user's id (a forged button) gets the same
    answer as a missing one."""
    await callback.answer(_("Аватар не найден."), show_alert=True)


# --- the photo upload screen ------------------------------------------------------------------------------------
async def show_upload(message: Message, state: FSMContext, db_user: User, avatar_hex: str, *, intro: bool) -> None:
    await state.set_state(AvatarWizard.photos)
    await state.update_data(avatar_id=avatar_hex)
    text = ""
    if intro:
        text = _("📸 <b>Загрузка фото</b>\n\nОтправьте от {min} до {max} своих фото — можно альбомом, можно файлами.\n"
                 "• JPEG, PNG или WEBP, до {size} МБ;\n• не меньше {res} px по короткой стороне;\n"
                 "• лицо хорошо видно, разные ракурсы и фон, без других людей.\n\n").format(
            min=settings.AVATAR_MIN_PHOTOS, max=settings.AVATAR_MAX_PHOTOS,
            size=settings.PHOTO_MAX_SIZE // (1024 * 1024), res=settings.PHOTO_MIN_RESOLUTION)
    count = len(await db(selectors.avatar_photo_list, user=db_user, avatar_id=avatar_hex))
    balance = await db(balance_get, user=db_user)
    await message.answer(text + progress_text(count), reply_markup=upload_keyboard(avatar_hex, count, balance))


def progress_text(count: int) -> str:
    need = settings.AVATAR_MIN_PHOTOS
    filled = min(10, count * 10 // max(need, 1))
    bar = "🟩" * filled + "⬜" * (10 - filled)
    text = _("{bar}\nЗагружено {count} из {need}").format(bar=bar, count=count, need=need)
    if count < need:
        text += _(" (минимум {need}, максимум {max})").format(need=need, max=settings.AVATAR_MAX_PHOTOS)
    return text


def upload_keyboard(avatar_hex: str, count: int, balance) -> InlineKeyboardMarkup:
    rows = []
    if count:
        rows.append([avatar_button(_("🖼 Загруженные фото ({count})").format(count=count), "review", avatar_hex)])
    if count >= settings.AVATAR_MIN_PHOTOS:
        rows.append([avatar_button(_("✅ Готово к обучению!"), "ready", avatar_hex)])
    if balance < settings.AVATAR_CREATION_COST:
        rows.append([top_up_button(_("💳 Пополнить баланс (обучение — {price} монет)").format(
            price=coins(settings.AVATAR_CREATION_COST)))])
    rows.append([avatar_button(_("🗑 Отменить создание"), "cancel", avatar_hex), main_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)
