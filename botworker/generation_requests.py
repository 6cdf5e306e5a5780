"""Answering a request for new images, wherever it was made (the generation screens, the gallery's "again")."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from django.utils.translation import gettext as _

from accounts.models import User
from billing.exceptions import InsufficientFunds
from botworker.keyboards import coins, main_menu_button, top_up_button
from generations.exceptions import InvalidInput, InvalidState, NotFound, ProviderUnavailable


async def create(callback: CallbackQuery, db_user: User, call) -> None:
    """Run a generation-creating service call and answer for it (shared with the gallery's "again")."""
    try:
        generation = await call()
    except InsufficientFunds as exc:
        await callback.answer()
        await callback.message.answer(
            _("❌ Недостаточно средств. Требуется: {need}, у вас: {have}").format(
                need=coins(exc.required), have=coins(exc.balance)),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[top_up_button()], [main_menu_button()]]))
        return
    except NotFound:
        await callback.answer(_("Не найдено."), show_alert=True)
        return
    except ProviderUnavailable:
        await callback.answer(_("Генерация временно недоступна. Монеты не списаны."), show_alert=True)
        return
    except (InvalidInput, InvalidState):
        await callback.answer(_("Не получилось: проверьте аватар и параметры."), show_alert=True)
        return
    await callback.answer()
    await callback.message.answer(
        _("⏳ Создаю {n} изобр. — списано {cost} монет. Пришлю результат, как только он будет готов; "
          "если что-то пойдёт не так, монеты вернутся.").format(
            n=generation.num_images, cost=coins(-generation.charge.amount if generation.charge else 0)))
