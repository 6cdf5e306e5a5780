"""The avatars section and the list of the user's avatars, one card at a time: make main, rename, delete. Every
action re-checks ownership in a service; an avatar that is not found (or another user's) is answered once, by this
router's error handlers."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from botworker.callbacks import AvatarCb, GenCb, Menu, MenuSection
from botworker.keyboards import main_menu_button, menu_button
from botworker.orm import db
from botworker.router_errors import own_errors
from botworker.routers.avatars.shared import AvatarWizard, avatar_button, avatar_not_found, gender_text, kind_text
from generations import selectors, services
from generations.exceptions import InvalidInput, InvalidState, NotFound
from generations.models import AvatarStatus

router = own_errors(Router(name="avatars.cards"))
router.error.register(avatar_not_found, ExceptionTypeFilter(NotFound), F.update.callback_query.as_("callback"))

# Marked for the catalogue here, translated when shown.
STATUS_TEXT = {
    AvatarStatus.DRAFT: gettext_noop("Черновик"), AvatarStatus.PHOTOS_UPLOADING: gettext_noop("Загрузка фото"),
    AvatarStatus.READY_FOR_TRAINING: gettext_noop("Готов к обучению"),
    AvatarStatus.TRAINING: gettext_noop("Обучается"),
    AvatarStatus.COMPLETED: gettext_noop("Готов"), AvatarStatus.ERROR: gettext_noop("Ошибка"),
    AvatarStatus.CANCELLED: gettext_noop("Отменен"),
}


@router.callback_query(Menu.filter(F.section == MenuSection.AVATARS))
async def show_section(callback: CallbackQuery, state: FSMContext, db_user: User) -> None:
    await state.clear()
    avatars = await db(selectors.avatar_list, user=db_user)
    await callback.answer()
    rows = [[avatar_button(_("➕ Создать аватар"), "new")]]
    if avatars:
        rows.append([avatar_button(_("🎭 Мои аватары ({count})").format(count=len(avatars)), "list")])
    rows.append([main_menu_button()])
    await callback.message.answer(
        _("🎭 <b>Аватары</b>\n\nАватар — ваша персональная модель: загрузите {min}–{max} своих фото, и после "
          "обучения можно создавать изображения с вами в любом образе.").format(
            min=settings.AVATAR_MIN_PHOTOS, max=settings.AVATAR_MAX_PHOTOS),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AvatarCb.filter(F.action == "list"))
async def show_card(callback: CallbackQuery, callback_data: AvatarCb, db_user: User, toast: str | None = None) -> None:
    avatars = await db(selectors.avatar_list, user=db_user)
    await callback.answer(toast)
    if not avatars:
        await callback.message.answer(_("У вас пока нет аватаров."), reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[avatar_button(_("➕ Создать аватар"), "new")], [main_menu_button()]]))
        return
    index = callback_data.index % len(avatars)
    avatar = avatars[index]
    lines = [
        f"🎭 <b>{escape(avatar.name)}</b>" + (" ⭐" if avatar.is_main else ""),
        _("Пол: {gender}").format(gender=gender_text(avatar.gender)),
        _("Тип: {kind}").format(kind=kind_text(avatar)),
        _("Статус: {status}").format(status=_(STATUS_TEXT.get(avatar.status, avatar.status))),
        _("Фото: {count}").format(count=avatar.photos_count or 0),
    ]
    if avatar.status == AvatarStatus.TRAINING:
        lines.append(_("Прогресс: {progress}%").format(progress=avatar.training_progress or 0))
    if avatar.created_at:
        lines.append(_("Создан: {date}").format(date=timezone.localtime(avatar.created_at).strftime("%d.%m.%Y")))
    rows = []
    if len(avatars) > 1:
        rows.append([avatar_button("⬅️", "list", index=index - 1),
                     avatar_button(f"{index + 1}/{len(avatars)}", "list", index=index),
                     avatar_button("➡️", "list", index=index + 1)])
    if avatar.status == AvatarStatus.COMPLETED:
        rows.append([InlineKeyboardButton(text=_("🎨 Генерировать"),
                                          callback_data=GenCb(action="avatar", value=avatar.pk.hex).pack())])
        if not avatar.is_main:
            rows.append([avatar_button(_("⭐ Сделать основным"), "main", avatar, index)])
    elif avatar.status in services.EDITABLE_STATUSES:
        rows.append([avatar_button(_("📸 Продолжить загрузку фото"), "photos", avatar)])
    elif avatar.status == AvatarStatus.ERROR:
        rows.append([avatar_button(_("🔁 Обучить заново"), "ready", avatar)])
    rows.append([avatar_button(_("✏️ Переименовать"), "rename", avatar),
                 avatar_button(_("🗑 Удалить"), "delete", avatar)])
    rows.append([menu_button(MenuSection.AVATARS, _("◀️ Назад")), main_menu_button()])
    await callback.message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AvatarCb.filter(F.action == "main"))
async def set_main(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    try:
        await db(services.avatar_set_main, user=db_user, avatar_id=callback_data.avatar)
    except InvalidState:
        await callback.answer(_("Основным может быть только готовый аватар."), show_alert=True)
        return
    await show_card(callback, callback_data, db_user, toast=_("⭐ Теперь это основной аватар"))


@router.callback_query(AvatarCb.filter(F.action == "rename"))
async def ask_rename(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    await db(selectors.avatar_get, user=db_user, avatar_id=callback_data.avatar)  # the user's own, or NotFound
    await state.set_state(AvatarWizard.rename)
    await state.update_data(avatar_id=callback_data.avatar)
    await callback.answer()
    await callback.message.answer(_("✏️ Введите новое имя аватара (2–50 символов):"))


@router.message(AvatarWizard.rename, F.text)
async def do_rename(message: Message, state: FSMContext, db_user: User) -> None:
    data = await state.get_data()
    try:
        avatar = await db(services.avatar_rename, user=db_user, avatar_id=data.get("avatar_id"),
                          name=message.text or "")
    except InvalidInput:
        await message.answer(_("Имя должно быть от 2 до 50 символов. Попробуйте ещё раз:"))
        return
    await state.clear()
    await message.answer(_("✅ Аватар переименован: <b>{name}</b>").format(name=escape(avatar.name)),
                         reply_markup=InlineKeyboardMarkup(
                             inline_keyboard=[[avatar_button(_("🎭 Мои аватары"), "list")]]))


@router.error(ExceptionTypeFilter(NotFound), F.update.message.as_("message"))
async def renamed_avatar_not_found(event: ErrorEvent, message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Аватар не найден."))


@router.callback_query(AvatarCb.filter(F.action == "delete"))
async def ask_delete(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    await db(selectors.avatar_get, user=db_user, avatar_id=callback_data.avatar)  # the user's own, or NotFound
    await callback.answer()
    await callback.message.answer(
        _("🗑 Удалить аватар? Уже созданные изображения останутся в галерее."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[
            [avatar_button(_("✅ Да, удалить"), "delete_ok", callback_data.avatar),
             avatar_button(_("Отмена"), "list")]]))


@router.callback_query(AvatarCb.filter(F.action == "delete_ok"))
async def do_delete(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_delete, user=db_user, avatar_id=callback_data.avatar)
    except InvalidState:
        await callback.answer(_("Аватар обучается — удалить его можно после окончания."), show_alert=True)
        return
    await state.clear()
    await callback.answer(_("Аватар удалён"))
    await callback.message.answer(_("🗑 Аватар удалён."), reply_markup=InlineKeyboardMarkup(inline_keyboard=[
        [avatar_button(_("🎭 Мои аватары"), "list")], [main_menu_button()]]))
