"""Creating an avatar: name -> gender -> training type -> (the photo upload screen) -> review -> training, or
cancelling it. An avatar that is not found (or another user's) is answered by this router's error handler."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import User
from billing.exceptions import InsufficientFunds
from billing.selectors import balance_get
from botworker.callbacks import AvatarCb, GenderCb, TrainingTypeCb
from botworker.keyboards import coins, main_menu_button, top_up_button
from botworker.orm import db
from botworker.router_errors import own_errors
from botworker.routers.avatars.shared import (
    AvatarWizard, avatar_button, avatar_not_found, gender_text, kind_text, show_upload,
)
from generations import selectors, services
from generations.exceptions import (
    GenerationsError, InvalidInput, InvalidState, NotEnoughPhotos, NotFound, ProviderUnavailable,
)

router = own_errors(Router(name="avatars.wizard"))
router.error.register(avatar_not_found, ExceptionTypeFilter(NotFound), F.update.callback_query.as_("callback"))


@router.callback_query(AvatarCb.filter(F.action == "new"))
async def start_wizard(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(AvatarWizard.name)
    await callback.answer()
    await callback.message.answer(_("✏️ Как назовём аватар? Введите имя (2–50 символов):"),
                                  reply_markup=InlineKeyboardMarkup(inline_keyboard=[[main_menu_button()]]))


@router.message(AvatarWizard.name, F.text)
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


@router.callback_query(GenderCb.filter(F.gender.in_({"male", "female"})), AvatarWizard.gender)
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


@router.callback_query(TrainingTypeCb.filter(F.training_type.in_({"portrait", "style"})), AvatarWizard.training_type)
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
    await show_upload(callback.message, state, db_user, avatar.pk.hex, intro=True)


@router.callback_query(AvatarCb.filter(F.action == "cancel"))
async def cancel_creation(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_delete, user=db_user, avatar_id=callback_data.avatar)
    except InvalidState:
        await callback.answer(_("Аватар не найден."), show_alert=True)
        return
    await state.clear()
    await callback.answer()
    await callback.message.answer(_("Создание аватара отменено."), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[main_menu_button()]]))


@router.callback_query(AvatarCb.filter(F.action == "ready"))
async def confirm_training(callback: CallbackQuery, callback_data: AvatarCb, db_user: User) -> None:
    avatar = await db(selectors.avatar_get, user=db_user, avatar_id=callback_data.avatar)
    balance = await db(balance_get, user=db_user)
    price = settings.AVATAR_CREATION_COST
    await callback.answer()
    text = _(
        "🦋 <b>Проверьте данные аватара</b>\n\n"
        "Имя: {name}\nПол: {gender}\nТип: {kind}\nФото: {count}\n\n"
        "Стоимость обучения: <b>{price}</b> монет\nВаш баланс: {balance} монет"
    ).format(name=escape(avatar.name), gender=gender_text(avatar.gender), kind=kind_text(avatar),
             count=avatar.photos_count or 0, price=coins(price), balance=coins(balance))
    rows = []
    if balance >= price:
        rows.append([avatar_button(_("✅ Создать аватар"), "train", avatar)])
    else:
        text += "\n\n" + _("❗ Не хватает {short} монет.").format(short=coins(price - balance))
        rows.append([top_up_button()])
    rows.append([avatar_button(_("◀️ К загрузке фото"), "photos", avatar)])
    await callback.message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AvatarCb.filter(F.action == "train"))
async def start_training(callback: CallbackQuery, callback_data: AvatarCb, state: FSMContext, db_user: User) -> None:
    try:
        await db(services.avatar_training_start, user=db_user, avatar_id=callback_data.avatar)
    except NotFound:
        raise  # for the error handler, not the catch-all GenerationsError below
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
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[avatar_button(_("🎭 Мои аватары"), "list")],
                                                           [main_menu_button()]]))
