"""Avatars: the creation wizard (name -> gender -> training type -> photos -> review -> training), the list with
its cards (main, rename, delete) and the uploaded-photo viewer. Every action re-checks ownership in a service."""

from __future__ import annotations

import asyncio
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from billing.exceptions import InsufficientFunds
from billing.selectors import balance_get
from botworker.callbacks import ButtonText, Menu, MenuSection
from botworker.keyboards import coins, main_menu_button, menu_button, top_up_button
from botworker.orm import db
from generations import selectors, services
from generations.exceptions import (
    GenerationsError, InvalidInput, InvalidState, NotEnoughPhotos, NotFound, PhotoRejected, ProviderUnavailable,
)
from generations.models import Avatar, AvatarGender, AvatarStatus

IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")


class AvatarWizard(StatesGroup):
    name = State()
    gender = State()
    training_type = State()
    photos = State()
    rename = State()


class AvatarCb(CallbackData, prefix="av"):
    """``action`` on the avatar ``avatar`` (UUID hex); ``index`` is a list or photo position."""

    action: ButtonText
    avatar: ButtonText = ""
    index: int = 0


class GenderCb(CallbackData, prefix="avg"):
    gender: ButtonText


class TrainingTypeCb(CallbackData, prefix="avt"):
    training_type: ButtonText


def _cb(action: str, avatar: Avatar | str = "", index: int = 0) -> str:
    avatar_hex = avatar.pk.hex if isinstance(avatar, Avatar) else avatar
    return AvatarCb(action=action, avatar=avatar_hex, index=index).pack()


def _button(text: str, action: str, avatar: Avatar | str = "", index: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=_cb(action, avatar, index))


# Marked for the catalogue here, translated when shown.
STATUS_TEXT = {
    AvatarStatus.DRAFT: gettext_noop("Черновик"), AvatarStatus.PHOTOS_UPLOADING: gettext_noop("Загрузка фото"),
    AvatarStatus.READY_FOR_TRAINING: gettext_noop("Готов к обучению"),
    AvatarStatus.TRAINING: gettext_noop("Обучается"),
    AvatarStatus.COMPLETED: gettext_noop("Готов"), AvatarStatus.ERROR: gettext_noop("Ошибка"),
    AvatarStatus.CANCELLED: gettext_noop("Отменен"),
}


def _gender_text(gender: str) -> str:
    # "other" is only on avatars adopted from the earlier service (whose first version offered it).
    return {AvatarGender.MALE: _("мужской"), AvatarGender.FEMALE: _("женский")}.get(gender) or _("другой")


def rejection_text(exc: PhotoRejected) -> str:
    reasons = {
        "duplicate": _("Это фото уже было загружено ранее"),
        "not_image": _("файл не является изображением"),
        "empty": _("файл пустой"),
        "format": _("формат не поддерживается — нужен JPEG, PNG или WEBP"),
        "too_large": _("файл больше {limit_mb} МБ"),
        "resolution": _("слишком маленькое разрешение {width}×{height}, нужно не меньше {minimum} px по короткой "
                        "стороне"),
        "resolution_too_high": _("слишком большое изображение {width}×{height}"),
        "limit": _("достигнут лимит — не больше {limit} фото"),
    }
    return _("❌ Фото не принято: {reason}").format(reason=reasons.get(exc.reason, exc.reason).format(**exc.params))


# --- section and list -------------------------------------------------------------------------------------------
async def show_section(callback: CallbackQuery, state: FSMContext, db_user: User) -> None:
    await state.clear()
    avatars = await db(selectors.avatar_list, user=db_user)
    await callback.answer()
    rows = [[_button(_("➕ Создать аватар"), "new")]]
    if avatars:
        rows.append([_button(_("🎭 Мои аватары ({count})").format(count=len(avatars)), "list")])
    rows.append([main_menu_button()])
    await callback.message.answer(
        _("🎭 <b>Аватары</b>\n\nАватар — ваша персональная модель: загрузите {min}–{max} своих фото, и после "
          "обучения можно создавать изображения с вами в любом образе.").format(
            min=settings.AVATAR_MIN_PHOTOS, max=settings.AVATAR_MAX_PHOTOS),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def show_card(callback: CallbackQuery, callback_data: AvatarCb, db_user: User, toast: str | None = None) -> None:
    avatars = await db(selectors.avatar_list, user=db_user)
    await callback.answer(toast)
    if not avatars:
        await callback.message.answer(_("У вас пока нет аватаров."), reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[_button(_("➕ Создать аватар"), "new")], [main_menu_button()]]))
        return
    index = callback_data.index % len(avatars)
    avatar = avatars[index]
    lines = [
        f"🎭 <b>{escape(avatar.name)}</b>" + (" ⭐" if avatar.is_main else ""),
        _("Пол: {gender}").format(gender=_gender_text(avatar.gender)),
        _("Тип: {kind}").format(kind=_("стиль") if avatar.training_type == "style" else _("портрет")),
        _("Статус: {status}").format(status=_(STATUS_TEXT.get(avatar.status, avatar.status))),
        _("Фото: {count}").format(count=avatar.photos_count or 0),
    ]
    if avatar.status == AvatarStatus.TRAINING:
        lines.append(_("Прогресс: {progress}%").format(progress=avatar.training_progress or 0))
    if avatar.created_at:
        lines.append(_("Создан: {date}").format(date=timezone.localtime(avatar.created_at).strftime("%d.%m.%Y")))
    rows = []
    if len(avatars) > 1:
        rows.append([_button("⬅️", "list", index=index - 1), _button(f"{index + 1}/{len(avatars)}", "list", index=index),
                     _button("➡️", "list", index=index + 1)])
    if avatar.status == AvatarStatus.COMPLETED:
        rows.append([InlineKeyboardButton(text=_("🎨 Генерировать"), callback_data=_generate_callback(avatar))])
        if not avatar.is_main:
            rows.append([_button(_("⭐ Сделать основным"), "main", avatar, index)])
    elif avatar.status in services.EDITABLE_STATUSES:
        rows.append([_button(_("📸 Продолжить загрузку фото"), "photos", avatar)])
    elif avatar.status == AvatarStatus.ERROR:
        rows.append([_button(_("🔁 Обучить заново"), "ready", avatar)])
    rows.append([_button(_("✏️ Переименовать"), "rename", avatar), _button(_("🗑 Удалить"), "delete", avatar)])
    rows.append([menu_button(MenuSection.AVATARS, _("◀️ Назад")), main_menu_button()])
    await callback.message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


def _generate_callback(avatar: Avatar) -> str:
    from botworker.routers.generation import GenCb  # the generation screens own their callback data

    return GenCb(action="avatar", value=avatar.pk.hex).pack()


async def set_main(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    try:
        await db(services.avatar_set_main, user=db_user, avatar_id=callback_data.avatar)
    except NotFound:
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    except InvalidState:
        await callback.answer(_("Основным может быть только готовый аватар."), show_alert=True)
        return
    await show_card(callback, callback_data, db_user, toast=_("⭐ Теперь это основной аватар"))


async def ask_rename(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    if not await _owned(callback, db_user, callback_data.avatar):
        return
    await state.set_state(AvatarWizard.rename)
    await state.update_data(avatar_id=callback_data.avatar)
    await callback.answer()
    await callback.message.answer(_("✏️ Введите новое имя аватара (2–50 символов):"))


async def do_rename(message: Message, state: FSMContext, db_user: User) -> None:
    data = await state.get_data()
    try:
        avatar = await db(services.avatar_rename, user=db_user, avatar_id=data.get("avatar_id"),
                          name=message.text or "")
    except InvalidInput:
        await message.answer(_("Имя должно быть от 2 до 50 символов. Попробуйте ещё раз:"))
        return
    except NotFound:
        await state.clear()
        await message.answer(_("Аватар не найден."))
        return
    await state.clear()
    await message.answer(_("✅ Аватар переименован: <b>{name}</b>").format(name=escape(avatar.name)),
                         reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_button(_("🎭 Мои аватары"), "list")]]))


async def ask_delete(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    if not await _owned(callback, db_user, callback_data.avatar):
        return
    await callback.answer()
    await callback.message.answer(
        _("🗑 Удалить аватар? Уже созданные изображения останутся в галерее."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[
            [_button(_("✅ Да, удалить"), "delete_ok", callback_data.avatar), _button(_("Отмена"), "list")]]))


async def do_delete(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_delete, user=db_user, avatar_id=callback_data.avatar)
    except NotFound:
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    except InvalidState:
        await callback.answer(_("Аватар обучается — удалить его можно после окончания."), show_alert=True)
        return
    await state.clear()
    await callback.answer(_("Аватар удалён"))
    await callback.message.answer(_("🗑 Аватар удалён."), reply_markup=InlineKeyboardMarkup(inline_keyboard=[
        [_button(_("🎭 Мои аватары"), "list")], [main_menu_button()]]))


async def _owned(callback: CallbackQuery, db_user: User, avatar_hex: str) -> Avatar | None:
    try:
        return await db(selectors.avatar_get, user=db_user, avatar_id=avatar_hex)
    except NotFound:
        # Another user's id (a forged button) gets the same answer as a missing one.
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return None


# --- the wizard -------------------------------------------------------------------------------------------------
async def start_wizard(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(AvatarWizard.name)
    await callback.answer()
    await callback.message.answer(_("✏️ Как назовём аватар? Введите имя (2–50 символов):"),
                                  reply_markup=InlineKeyboardMarkup(inline_keyboard=[[main_menu_button()]]))


async def got_name(message: Message, state: FSMContext) -> None:
    try:
        name = services.avatar_name_clean(name=message.text or "")
    except InvalidInput:
        await message.answer(_("Имя должно быть от 2 до 50 символов. Попробуйте ещё раз:"))
        return
    await state.update_data(name=name)
    await state.set_state(AvatarWizard.gender)
    await message.answer(_("👤 Выберите пол — так модель точнее передаст черты лица:"),
                         reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                             [InlineKeyboardButton(text=_("👨 Мужской"), callback_data=GenderCb(gender="male").pack()),
                              InlineKeyboardButton(text=_("👩 Женский"),
                                                   callback_data=GenderCb(gender="female").pack())],
                             [main_menu_button()]]))


async def got_gender(callback: CallbackQuery, callback_data: GenderCb, state: FSMContext) -> None:
    await state.update_data(gender=callback_data.gender)
    await state.set_state(AvatarWizard.training_type)
    await callback.answer()
    await callback.message.answer(
        _("🎯 Тип обучения:\n• <b>Портрет</b> — лучше всего для фото с вашим лицом;\n"
          "• <b>Стиль</b> — для образа в целом (одежда, манера, обстановка)."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=_("🧑 Портрет"), callback_data=TrainingTypeCb(training_type="portrait").pack()),
             InlineKeyboardButton(text=_("🎨 Стиль"), callback_data=TrainingTypeCb(training_type="style").pack())],
            [main_menu_button()]]))


async def got_training_type(callback: CallbackQuery, callback_data: TrainingTypeCb, state: FSMContext,
                            db_user: User) -> None:
    data = await state.get_data()
    try:
        avatar = await db(services.avatar_create, user=db_user, name=data.get("name", ""),
                          gender=data.get("gender", ""), training_type=callback_data.training_type)
    except InvalidInput:
        await callback.answer(_("Начните создание заново."), show_alert=True)
        await state.clear()
        return
    await callback.answer()
    await _open_upload(callback.message, state, db_user, avatar.pk.hex, intro=True)


async def open_upload(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    avatar = await _owned(callback, db_user, callback_data.avatar)
    if avatar is None:
        return
    if avatar.status not in services.EDITABLE_STATUSES:
        await callback.answer(_("Фото этого аватара уже нельзя менять."), show_alert=True)
        return
    await callback.answer()
    await _open_upload(callback.message, state, db_user, callback_data.avatar, intro=False)


async def _open_upload(message: Message, state: FSMContext, db_user: User, avatar_hex: str, *, intro: bool) -> None:
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
    await message.answer(text + _progress_text(count), reply_markup=_upload_keyboard(avatar_hex, count, balance))


def _progress_text(count: int) -> str:
    need = settings.AVATAR_MIN_PHOTOS
    filled = min(10, count * 10 // max(need, 1))
    bar = "🟩" * filled + "⬜" * (10 - filled)
    text = _("{bar}\nЗагружено {count} из {need}").format(bar=bar, count=count, need=need)
    if count < need:
        text += _(" (минимум {need}, максимум {max})").format(need=need, max=settings.AVATAR_MAX_PHOTOS)
    return text


def _upload_keyboard(avatar_hex: str, count: int, balance) -> InlineKeyboardMarkup:
    rows = []
    if count:
        rows.append([_button(_("🖼 Загруженные фото ({count})").format(count=count), "review", avatar_hex)])
    if count >= settings.AVATAR_MIN_PHOTOS:
        rows.append([_button(_("✅ Готово к обучению!"), "ready", avatar_hex)])
    if balance < settings.AVATAR_CREATION_COST:
        rows.append([top_up_button(_("💳 Пополнить баланс (обучение — {price} монет)").format(
            price=coins(settings.AVATAR_CREATION_COST)))])
    rows.append([_button(_("🗑 Отменить создание"), "cancel", avatar_hex), main_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


class _Albums:
    """Photos of one album arrive as separate messages handled at once. Instead of one progress message per photo,
    the last photo of an album to finish sends one summary (rejections are still answered one by one)."""

    SETTLE_SECONDS = 0.7  # later photos of the same album arrive within a fraction of a second

    def __init__(self):
        self.pending: dict[str, int] = {}
        self.accepted: dict[str, int] = {}

    def begin(self, group: str) -> None:
        self.pending[group] = self.pending.get(group, 0) + 1

    async def end(self, group: str, *, accepted: bool) -> int | None:
        """The number of accepted photos when this was the album's last one, else None."""
        self.accepted[group] = self.accepted.get(group, 0) + int(accepted)
        self.pending[group] -= 1
        if self.pending[group]:
            return None
        await asyncio.sleep(self.SETTLE_SECONDS)
        if self.pending.get(group) != 0:
            return None  # more photos arrived meanwhile (their last one reports), or another call reported
        del self.pending[group]
        return self.accepted.pop(group, 0)


ALBUMS = _Albums()


async def got_photo(message: Message, state: FSMContext, db_user: User, bot: Bot) -> None:
    """One photo, or one photo of an album (each album photo is a message of its own, handled concurrently)."""
    group = message.media_group_id
    if group:
        ALBUMS.begin(group)
    accepted = False
    try:
        accepted = await _take_photo(message, state, db_user, bot, report=not group)
    finally:
        if group and (album_accepted := await ALBUMS.end(group, accepted=accepted)) is not None:
            await _album_summary(message, state, db_user, album_accepted)


async def _take_photo(message: Message, state: FSMContext, db_user: User, bot: Bot, *, report: bool) -> bool:
    data = await state.get_data()
    avatar_hex = data.get("avatar_id", "")
    if message.photo:
        file = message.photo[-1]
    else:
        file = message.document
        if file.file_size and file.file_size > settings.PHOTO_MAX_SIZE:
            await message.answer(rejection_text(PhotoRejected(
                "too_large", limit_mb=settings.PHOTO_MAX_SIZE // (1024 * 1024))))
            return False
    try:
        content = (await bot.download(file.file_id)).read()
    except Exception:  # noqa: BLE001 - Telegram could not give us the file; the user may simply resend it
        await message.answer(_("❌ Не удалось получить файл от Telegram. Отправьте его ещё раз."))
        return False
    try:
        photo, count = await db(services.avatar_photo_add, user=db_user, avatar_id=avatar_hex, content=content)
    except PhotoRejected as exc:
        await message.answer(rejection_text(exc))
        return False
    except (NotFound, InvalidState):
        await state.clear()
        await message.answer(_("Этот аватар больше не принимает фото."))
        return False
    text = _("✅ Фото принято.") + "\n"
    if max(photo.width or 0, photo.height or 0) > settings.PHOTO_MAX_RESOLUTION:
        text += _("⚠️ Очень большое фото — при обучении оно будет уменьшено.") + "\n"
        report = True
    if report:
        balance = await db(balance_get, user=db_user)
        await message.answer(text + _progress_text(count),
                             reply_markup=_upload_keyboard(avatar_hex, count, balance))
    return True


async def _album_summary(message: Message, state: FSMContext, db_user: User, accepted: int) -> None:
    avatar_hex = (await state.get_data()).get("avatar_id", "")
    try:
        count = len(await db(selectors.avatar_photo_list, user=db_user, avatar_id=avatar_hex))
    except NotFound:
        return
    balance = await db(balance_get, user=db_user)
    await message.answer(_("✅ Из альбома принято фото: {n}.").format(n=accepted) + "\n" + _progress_text(count),
                         reply_markup=_upload_keyboard(avatar_hex, count, balance))


async def not_a_photo(message: Message) -> None:
    await message.answer(_("❌ Фото не принято: пришлите фото или файл изображения (JPEG, PNG, WEBP)."))


async def review_photo(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    try:
        photos = await db(selectors.avatar_photo_list, user=db_user, avatar_id=callback_data.avatar)
    except NotFound:
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    await callback.answer()
    if not photos:
        await callback.message.answer(_("Фото пока нет."))
        return
    index = callback_data.index % len(photos)
    photo = photos[index]
    content = await db(selectors.avatar_photo_content, user=db_user, avatar_id=callback_data.avatar,
                       photo_id=photo.pk)
    avatar_hex = callback_data.avatar
    position = _("{n} из {total}").format(n=index + 1, total=len(photos))
    rows = [
        [_button("◀️", "review", avatar_hex, index - 1), _button(position, "review", avatar_hex, index),
         _button("▶️", "review", avatar_hex, index + 1)],
        [_button(_("🗑 Удалить фото"), "photo_delete", avatar_hex, index)],
        [_button(_("◀️ К загрузке"), "photos", avatar_hex)],
    ]
    await callback.message.answer_photo(
        BufferedInputFile(content, filename=f"photo.{photo.format or 'jpg'}"),
        caption=_("Фото {n} из {total}").format(n=index + 1, total=len(photos)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def delete_photo(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        photos = await db(selectors.avatar_photo_list, user=db_user, avatar_id=callback_data.avatar)
        if not photos:
            raise NotFound("photo")
        photo = photos[callback_data.index % len(photos)]
        await db(services.avatar_photo_delete, user=db_user, avatar_id=callback_data.avatar,
                         photo_id=photo.pk)
    except NotFound:
        await callback.answer(_("Фото не найдено."), show_alert=True)
        return
    except InvalidState:
        await callback.answer(_("Фото этого аватара уже нельзя менять."), show_alert=True)
        return
    await callback.answer(_("Фото удалено"))
    await _open_upload(callback.message, state, db_user, callback_data.avatar, intro=False)


async def cancel_creation(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_delete, user=db_user, avatar_id=callback_data.avatar)
    except (NotFound, InvalidState):
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    await state.clear()
    await callback.answer()
    await callback.message.answer(_("Создание аватара отменено."), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[main_menu_button()]]))


async def confirm_training(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    avatar = await _owned(callback, db_user, callback_data.avatar)
    if avatar is None:
        return
    balance = await db(balance_get, user=db_user)
    price = settings.AVATAR_CREATION_COST
    await callback.answer()
    text = _(
        "🦋 <b>Проверьте данные аватара</b>\n\n"
        "Имя: {name}\nПол: {gender}\nТип: {kind}\nФото: {count}\n\n"
        "Стоимость обучения: <b>{price}</b> монет\nВаш баланс: {balance} монет"
    ).format(name=escape(avatar.name), gender=_gender_text(avatar.gender),
             kind=_("стиль") if avatar.training_type == "style" else _("портрет"), count=avatar.photos_count or 0,
             price=coins(price), balance=coins(balance))
    rows = []
    if balance >= price:
        rows.append([_button(_("✅ Создать аватар"), "train", avatar)])
    else:
        text += "\n\n" + _("❗ Не хватает {short} монет.").format(short=coins(price - balance))
        rows.append([top_up_button()])
    rows.append([_button(_("◀️ К загрузке фото"), "photos", avatar)])
    await callback.message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def start_training(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_training_start, user=db_user, avatar_id=callback_data.avatar)
    except NotFound:
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    except InsufficientFunds as exc:
        await callback.answer()
        await callback.message.answer(
            _("❌ Недостаточно средств. Требуется: {need}, у вас: {have}").format(
                need=coins(exc.required), have=coins(exc.balance)),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[top_up_button()]]))
        return
    except NotEnoughPhotos as exc:
        await callback.answer(_("Нужно минимум {need} фото, загружено {have}.").format(need=exc.need, have=exc.have),
                              show_alert=True)
        return
    except ProviderUnavailable:
        await callback.answer(_("Обучение временно недоступно. Монеты не списаны."), show_alert=True)
        return
    except GenerationsError:
        await callback.answer(_("Этот аватар уже обучается или готов."), show_alert=True)
        return
    await state.clear()
    await callback.answer()
    await callback.message.answer(
        _("🚀 Обучение началось! Обычно это занимает 15–30 минут — мы пришлём уведомление, когда аватар будет "
          "готов."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_button(_("🎭 Мои аватары"), "list")],
                                                           [main_menu_button()]]))


def create_router() -> Router:
    router = Router(name="avatars")
    cb = router.callback_query
    cb.register(show_section, Menu.filter(F.section == MenuSection.AVATARS))
    cb.register(start_wizard, AvatarCb.filter(F.action == "new"))
    cb.register(show_card, AvatarCb.filter(F.action == "list"))
    cb.register(set_main, AvatarCb.filter(F.action == "main"))
    cb.register(ask_rename, AvatarCb.filter(F.action == "rename"))
    cb.register(ask_delete, AvatarCb.filter(F.action == "delete"))
    cb.register(do_delete, AvatarCb.filter(F.action == "delete_ok"))
    cb.register(open_upload, AvatarCb.filter(F.action == "photos"))
    cb.register(review_photo, AvatarCb.filter(F.action == "review"))
    cb.register(delete_photo, AvatarCb.filter(F.action == "photo_delete"))
    cb.register(cancel_creation, AvatarCb.filter(F.action == "cancel"))
    cb.register(confirm_training, AvatarCb.filter(F.action == "ready"))
    cb.register(start_training, AvatarCb.filter(F.action == "train"))
    cb.register(got_gender, GenderCb.filter(F.gender.in_({"male", "female"})), AvatarWizard.gender)
    cb.register(got_training_type, TrainingTypeCb.filter(F.training_type.in_({"portrait", "style"})),
                AvatarWizard.training_type)
    msg = router.message
    msg.register(got_name, AvatarWizard.name, F.text)
    msg.register(do_rename, AvatarWizard.rename, F.text)
    msg.register(got_photo, AvatarWizard.photos, F.photo)
    msg.register(got_photo, AvatarWizard.photos, F.document)
    msg.register(not_a_photo, AvatarWizard.photos)
    return router
