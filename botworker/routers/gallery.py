"""The gallery: the user's completed images, newest first, one card at a time; favourite, delete (confirmed),
show the prompt, and "again" with the same settings (one new charge per card, however often its button is tapped)."""

from __future__ import annotations

import hashlib
from html import escape

from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import BufferedInputFile, CallbackQuery, ErrorEvent, InlineKeyboardButton, InlineKeyboardMarkup
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from botworker import generation_requests
from botworker.callbacks import GalleryCb, Menu, MenuSection
from botworker.keyboards import main_menu_button
from botworker.orm import db
from botworker.router_errors import own_errors
from generations import selectors, services
from generations.exceptions import NotFound


router = own_errors(Router(name="gallery"))


@router.error(ExceptionTypeFilter(NotFound), F.update.callback_query.as_("callback"))
async def image_not_found(event: ErrorEvent, callback: CallbackQuery) -> None:
    await callback.answer(_("Изображение не найдено."), show_alert=True)


def _button(text: str, action: str, index: int = 0, item: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=GalleryCb(action=action, index=index, item=item).pack())


def _card(user: User, index: int):
    generation, total = selectors.gallery_page(user=user, index=index)
    files = selectors.generation_file_contents(generation=generation) if generation else []
    return generation, total, files


async def show(callback: CallbackQuery, db_user: User, index: int = 0, toast: str | None = None) -> None:
    generation, total, files = await db(_card, db_user, index)
    await callback.answer(toast)
    if generation is None:
        await callback.message.answer(_("🖼 В галерее пока пусто — создайте первое фото!"),
                                      reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                                          [InlineKeyboardButton(text=_("🎨 Создать фото"), callback_data=Menu(
                                              section=MenuSection.GENERATE).pack())], [main_menu_button()]]))
        return
    index %= total
    item = generation.pk.hex
    caption = _("🖼 Изображение {n} из {total}\nАватар: {avatar}\nФормат: {ratio}\n{when}").format(
        n=index + 1, total=total, avatar=escape(services.generation_source_label(generation=generation)),
        ratio=generation.aspect_ratio or "—",
        when=timezone.localtime(generation.created_at).strftime("%d.%m.%Y %H:%M"))
    if generation.is_favorite:
        caption += "\n❤️ " + _("В избранном")
    rows = []
    if total > 1:
        rows.append([_button("⬅️", "page", index - 1), _button(f"{index + 1}/{total}", "page", index),
                     _button("➡️", "page", index + 1)])
    rows.append([_button(_("❤️ Убрать из избранного") if generation.is_favorite else _("🤍 В избранное"),
                         "favorite", index, item),
                 _button(_("📋 Промпт"), "prompt", index, item)])
    rows.append([_button(_("🔄 Повторить"), "again", index, item), _button(_("🗑 Удалить"), "delete", index, item)])
    rows.append([main_menu_button()])
    markup = InlineKeyboardMarkup(inline_keyboard=rows)
    if files:
        name, content = files[0]
        await callback.message.answer_photo(BufferedInputFile(content, filename=name), caption=caption,
                                            reply_markup=markup)
    else:
        await callback.message.answer(caption, reply_markup=markup)


@router.callback_query(Menu.filter(F.section == MenuSection.GALLERY))
async def open_gallery(callback: CallbackQuery, db_user: User) -> None:
    await show(callback, db_user, 0)


@router.callback_query(GalleryCb.filter(F.action == "page"))
async def page(callback: CallbackQuery, callback_data: GalleryCb, db_user: User) -> None:
    await show(callback, db_user, callback_data.index)


@router.callback_query(GalleryCb.filter(F.action == "favorite"))
async def toggle_favorite(callback: CallbackQuery, callback_data: GalleryCb, db_user: User) -> None:
    generation = await db(services.generation_toggle_favorite, user=db_user, generation_id=callback_data.item)
    await callback.answer(_("❤️ Добавлено в избранное") if generation.is_favorite else _("Убрано из избранного"))


@router.callback_query(GalleryCb.filter(F.action == "prompt"))
async def show_prompt(callback: CallbackQuery, callback_data: GalleryCb, db_user: User) -> None:
    generation = await db(selectors.generation_get, user=db_user, generation_id=callback_data.item)
    await callback.answer()
    await callback.message.answer(_("📋 Запрос: <i>{prompt}</i>").format(prompt=escape(generation.original_prompt)))


def request_token(callback: CallbackQuery, item: str) -> str | None:
    """The one-time token of an "again" request: every tap of the same button (a double tap, or one update
    handled twice) comes with the same card message, so all of them name one request; a card drawn anew is a
    new message and so a new request."""
    message = callback.message
    if message is None:
        return None
    seed = f"gallery-again:{message.chat.id}:{message.message_id}:{item}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


@router.callback_query(GalleryCb.filter(F.action == "again"))
async def again(callback: CallbackQuery, callback_data: GalleryCb, db_user: User) -> None:
    token = request_token(callback, callback_data.item)
    if token and await db(selectors.generation_requested, user=db_user, request_token=token):
        await callback.answer(_("🔄 Этот запрос уже принят, монеты повторно не списываются."), show_alert=True)
        return
    await generation_requests.create(callback, db_user, lambda: db(services.generation_regenerate, user=db_user,
                                               generation_id=callback_data.item, request_token=token))


@router.callback_query(GalleryCb.filter(F.action == "delete"))
async def ask_delete(callback: CallbackQuery, callback_data: GalleryCb) -> None:
    await callback.answer()
    await callback.message.answer(_("🗑 Удалить изображение из галереи?"), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[_button(_("✅ Да, удалить"), "delete_ok", callback_data.index, callback_data.item),
                          _button(_("Отмена"), "page", callback_data.index)]]))


@router.callback_query(GalleryCb.filter(F.action == "delete_ok"))
async def do_delete(callback: CallbackQuery, callback_data: GalleryCb, db_user: User) -> None:
    await db(services.generation_delete, user=db_user, generation_id=callback_data.item)
    await show(callback, db_user, callback_data.index, toast=_("Удалено"))
