"""Telegram Stars top-ups: the invoice, the pre-checkout check, the successful payment, /paysupport.

Telegram delivers ``successful_payment`` at least once; ``payments.services.purchase.purchase_complete`` credits it
once, keyed by ``telegram_payment_charge_id``. The reply is sent after that transaction has committed. A payment
that does not match its invoice is credited with nothing and flagged; the user is told support is checking it.
"""

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery
from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import User
from botworker.callbacks import MenuSection, TopUpPackageChoice
from botworker.keyboards import back_to_menu_keyboard, coins, menu_button
from botworker.orm import db
from payments import exceptions as payment_errors
from payments import invoices
from payments import selectors as payment_selectors
from payments.services import purchase

logger = logging.getLogger(__name__)

router = Router(name="payments")


def _invoice_for(user: User, package_id: int) -> tuple[payment_selectors.TopUpOffer, invoices.Invoice]:
    offer = payment_selectors.topup_offer_get(user=user, package_id=package_id)
    return offer, invoices.invoice_for_offer(user=user, offer=offer)


@router.callback_query(TopUpPackageChoice.filter())
async def send_invoice(callback: CallbackQuery, callback_data: TopUpPackageChoice, bot: Bot, db_user: User) -> None:
    try:
        offer, invoice = await db(_invoice_for, db_user, callback_data.package_id)
    except payment_errors.PackageUnavailable:
        await callback.answer(_("Этот пакет больше недоступен. Выберите другой."), show_alert=True)
        return
    await callback.answer()
    package = offer.package
    description = _("{coins} монет на баланс бота").format(coins=coins(package.total_credits))
    if offer.discount_percent:
        description += " " + _("(скидка {percent}% по промокоду)").format(percent=coins(offer.discount_percent))
    if offer.promo_bonus:
        description += " " + _("+ бонус {coins} монет по промокоду").format(coins=coins(offer.promo_bonus))
    await bot.send_invoice(
        chat_id=callback.message.chat.id,
        title=_("Пакет «{title}»").format(title=package.title)[:32],
        description=description[:255],
        payload=invoice.payload(),
        currency=invoices.STARS_CURRENCY,
        prices=[LabeledPrice(label=_("{coins} монет").format(coins=coins(package.total_credits)), amount=offer.stars)],
        provider_token="",
    )


def pre_checkout_error(error: payment_errors.PaymentError) -> str:
    if isinstance(error, payment_errors.InvoiceNotYours):
        return _("Этот счёт выставлен другому пользователю. Откройте пополнение в боте и выберите пакет.")
    if isinstance(error, payment_errors.PayerBlocked):
        return _("Ваш доступ к боту ограничен. Напишите в поддержку.")
    if isinstance(error, (payment_errors.PackageUnavailable, payment_errors.PriceChanged)):
        return _("Цена или пакет изменились. Откройте пополнение заново и выберите пакет.")
    return _("Этот счёт недействителен. Откройте пополнение в боте заново.")


@router.pre_checkout_query()
async def on_pre_checkout(query: PreCheckoutQuery) -> None:
    # Telegram waits 10 seconds for the answer: one quick read, then answer either way.
    try:
        await db(purchase.purchase_pre_checkout_check, payer_telegram_id=query.from_user.id,
                 payload=query.invoice_payload, currency=query.currency, total_amount=query.total_amount)
    except payment_errors.PaymentError as error:
        logger.warning("Pre-checkout refused for user %s, payload %r: %s", query.from_user.id,
                       query.invoice_payload, error)
        await query.answer(ok=False, error_message=pre_checkout_error(error))
        return
    await query.answer(ok=True)


@router.message(F.successful_payment)
async def on_successful_payment(message: Message) -> None:
    payment = message.successful_payment
    try:
        result = await db(
            purchase.purchase_complete, payer_telegram_id=message.from_user.id,
            payload=payment.invoice_payload, total_amount=payment.total_amount,
            telegram_payment_charge_id=payment.telegram_payment_charge_id, currency=payment.currency,
        )
    except payment_errors.PaymentFlagged as flagged:
        logger.warning("Payment %s not credited: %s", payment.telegram_payment_charge_id, flagged.reason)
        if flagged.first:
            await message.answer(payment_flagged_text(), reply_markup=back_to_menu_keyboard())
        return
    if result.duplicate:
        logger.info("Payment %s delivered again; already credited", payment.telegram_payment_charge_id)
        return
    text = _("✅ Оплата получена! Начислено {coins} монет.").format(coins=coins(result.topup.amount))
    if result.bonus:
        text += "\n" + _("🎁 Бонус по промокоду: +{coins} монет.").format(coins=coins(result.bonus.amount))
    text += "\n\n" + _("💰 Ваш баланс: <b>{coins} монет</b>").format(coins=coins(result.balance))
    await message.answer(text, reply_markup=back_to_menu_keyboard(
        [menu_button(MenuSection.GENERATE, _("🎨 Создать фото"))]))


def payment_flagged_text() -> str:
    return _("🔎 Платёж получен, но не совпадает со счётом, поэтому его проверяет поддержка. После проверки "
             "мы начислим монеты или вернём звёзды. Вопросы: /paysupport")


def paysupport_text() -> str:
    contact = settings.BOT_SUPPORT_CONTACT or _("ответьте на это сообщение")
    return _(
        "💬 <b>Вопросы об оплате звёздами</b>\n\n"
        "Если монеты не пришли или списание прошло по ошибке, напишите в поддержку: {contact}.\n"
        "Укажите дату платежа и ID операции из чека Telegram — мы проверим платёж и, если нужно, "
        "вернём звёзды. Звёзды за уже потраченные монеты не возвращаются.\n\n"
        "Поддержка Telegram не рассматривает покупки в ботах: по ним отвечаем только мы."
    ).format(contact=escape(contact))


@router.message(Command("paysupport"))
async def on_paysupport(message: Message) -> None:
    await message.answer(paysupport_text(), reply_markup=back_to_menu_keyboard())
