"""An avatar's photos: the upload screen (one photo, a file or an album at a time) and the viewer of the uploaded
ones (page, delete). An avatar that is not found (or another user's) is answered by this router's error handler."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import User
from billing.selectors import balance_get
from botworker.callbacks import AvatarCb
from botworker.orm import db
from botworker.router_errors import own_errors
from botworker.routers.avatars.shared import (
    AvatarWizard, avatar_button, avatar_not_found, progress_text, show_upload, upload_keyboard,
)
from generations import selectors, services
from generations.exceptions import InvalidState, NotFound, PhotoRejected

router = own_errors(Router(name="avatars.photos"))
router.error.register(avatar_not_found, ExceptionTypeFilter(NotFound), F.update.callback_query.as_("callback"))


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


@router.callback_query(AvatarCb.filter(F.action == "photos"))
async def open_upload(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    avatar = await db(selectors.avatar_get, user=db_user, avatar_id=callback_data.avatar)
    if avatar.status not in services.EDITABLE_STATUSES:
        await callback.answer(_("Фото этого аватара уже нельзя менять."), show_alert=True)
        return
    await callback.answer()
    await show_upload(callback.message, state, db_user, callback_data.avatar, intro=False)


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


router.message.register(got_photo, AvatarWizard.photos, F.photo)
router.message.register(got_photo, AvatarWizard.photos, F.document)


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
        await message.answer(text + progress_text(count), reply_markup=upload_keyboard(avatar_hex, count, balance))
    return True


async def _album_summary(message: Message, state: FSMContext, db_user: User, accepted: int) -> None:
    avatar_hex = (await state.get_data()).get("avatar_id", "")
    try:
        count = len(await db(selectors.avatar_photo_list, user=db_user, avatar_id=avatar_hex))
    except NotFound:
        return
    balance = await db(balance_get, user=db_user)
    await message.answer(_("✅ Из альбома принято фото: {n}.").format(n=accepted) + "\n" + progress_text(count),
                         reply_markup=upload_keyboard(avatar_hex, count, balance))


@router.message(AvatarWizard.photos)
async def not_a_photo(message: Message) -> None:
    await message.answer(_("❌ Фото не принято: пришлите фото или файл изображения (JPEG, PNG, WEBP)."))


@router.callback_query(AvatarCb.filter(F.action == "review"))
async def review_photo(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    photos = await db(selectors.avatar_photo_list, user=db_user, avatar_id=callback_data.avatar)
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
        [avatar_button("◀️", "review", avatar_hex, index - 1), avatar_button(position, "review", avatar_hex, index),
         avatar_button("▶️", "review", avatar_hex, index + 1)],
        [avatar_button(_("🗑 Удалить фото"), "photo_delete", avatar_hex, index)],
        [avatar_button(_("◀️ К загрузке"), "photos", avatar_hex)],
    ]
    await callback.message.answer_photo(
        BufferedInputFile(content, filename=f"photo.{photo.format or 'jpg'}"),
        caption=_("Фото {n} из {total}").format(n=index + 1, total=len(photos)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AvatarCb.filter(F.action == "photo_delete"))
async def delete_photo(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        photos = await db(selectors.avatar_photo_list, user=db_user, avatar_id=callback_data.avatar)
        if not photos:
            raise NotFound("photo")
        photo = photos[callback_data.index % len(photos)]
        await db(services.avatar_photo_delete, user=db_user, avatar_id=callback_data.avatar, photo_id=photo.pk)
    except NotFound:  # answered here: the photo, rather than the avatar, is what was not found
        await callback.answer(_("Фото не найдено."), show_alert=True)
        return
    except InvalidState:
        await callback.answer(_("Фото этого аватара уже нельзя менять."), show_alert=True)
        return
    await callback.answer(_("Фото удалено"))
    await show_upload(callback.message, state, db_user, callback_data.avatar, intro=False)
