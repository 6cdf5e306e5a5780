"""The balance screen, the ledger entry details and the top-up packages (``balance_top_up`` from any screen)."""

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing import selectors as billing_selectors
from billing.models import Transaction
from botworker.callbacks import BalanceTopUp, LedgerEntry, LegacyBalanceTopUp, Menu, MenuSection, TopUpPackageChoice
from botworker.keyboards import coins, main_menu_button, menu_button, top_up_button
from botworker.orm import db
from payments import selectors as payment_selectors
from promocodes import selectors as promo_selectors

RECENT_ENTRIES = 5


router = Router(name="balance")


@dataclass(frozen=True)
class BalanceScreen:
    balance: Decimal
    entries: list[Transaction]
    perks: promo_selectors.PendingPerks


def _balance_screen(user: User) -> BalanceScreen:
    return BalanceScreen(
        balance=billing_selectors.balance_get(user=user),
        entries=billing_selectors.transaction_list_recent(user=user, limit=RECENT_ENTRIES),
        perks=promo_selectors.promo_perks_pending(user=user),
    )


def _signed(amount: Decimal) -> str:
    return f"{'+' if amount > 0 else '−'}{coins(abs(amount))}"


def _entry_line(entry: Transaction) -> str:
    when = timezone.localtime(entry.created_at).strftime("%d.%m %H:%M")
    return f"• {when}  {_signed(entry.amount)}  {escape(str(entry.get_type_display()))}"


def balance_text(screen: BalanceScreen) -> str:
    lines = [_("💰 <b>Ваш баланс: {coins} монет</b>").format(coins=coins(screen.balance))]
    if screen.perks.bonus:
        lines.append(_("🎁 Бонус к следующему пополнению: +{coins} монет").format(coins=coins(screen.perks.bonus)))
    if screen.perks.discount_percent:
        lines.append(_("🏷 Скидка на следующий пакет: {percent}%").format(
            percent=coins(screen.perks.discount_percent)))
    lines.append("")
    if screen.entries:
        lines.append(_("📊 <b>Последние операции:</b>"))
        lines.extend(_entry_line(entry) for entry in screen.entries)
    else:
        lines.append(_("Операций пока нет."))
    return "\n".join(lines)


def balance_keyboard(screen: BalanceScreen) -> InlineKeyboardMarkup:
    entry_buttons = [
        InlineKeyboardButton(text=f"#{entry.pk} {_signed(entry.amount)}",
                             callback_data=LedgerEntry(entry_id=entry.pk).pack())
        for entry in screen.entries[:3]
    ]
    rows = [[top_up_button(_("➕ Пополнить"))], [menu_button(MenuSection.PROMO, _("🎁 Ввести промокод"))]]
    if entry_buttons:
        rows.append(entry_buttons)
    rows.append([main_menu_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(Menu.filter(F.section == MenuSection.BALANCE))
@router.message(Command("balance"))
async def show_balance(event: Message | CallbackQuery, db_user: User) -> None:
    if isinstance(event, CallbackQuery):
        await event.answer()
        event = event.message
    screen = await db(_balance_screen, db_user)
    await event.answer(balance_text(screen), reply_markup=balance_keyboard(screen))


@router.callback_query(LedgerEntry.filter())
async def show_entry(callback: CallbackQuery, callback_data: LedgerEntry, db_user: User) -> None:
    entry = await db(billing_selectors.transaction_get_for_user, user=db_user, entry_id=callback_data.entry_id)
    if entry is None:
        # Another user's entry (forged or stale data) is refused exactly like a missing one.
        await callback.answer(_("Операция не найдена."), show_alert=True)
        return
    await callback.answer()
    text = _(
        "🧾 <b>Операция #{id}</b>\n"
        "Дата: {when}\nТип: {type}\nСумма: {amount} монет\nБаланс после: {after} монет"
    ).format(
        id=entry.pk, when=timezone.localtime(entry.created_at).strftime("%d.%m.%Y %H:%M"),
        type=escape(str(entry.get_type_display())), amount=_signed(entry.amount), after=coins(entry.balance_after),
    )
    await callback.message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[
        [menu_button(MenuSection.BALANCE, _("◀️ К балансу")), main_menu_button()],
    ]))


def packages_text(offers: list[payment_selectors.TopUpOffer]) -> str:
    lines = [_("➕ <b>Пополнение баланса</b>\n\nВыберите пакет — оплата звёздами Telegram ⭐")]
    if offers and offers[0].discount_percent:
        lines.append(_("🏷 Ваша скидка {percent}% уже учтена в цене.").format(percent=coins(offers[0].discount_percent)))
    if offers and offers[0].promo_bonus:
        lines.append(_("🎁 К покупке добавится бонус +{coins} монет.").format(coins=coins(offers[0].promo_bonus)))
    if not offers:
        lines.append(_("Пакеты временно недоступны. Попробуйте позже."))
    return "\n\n".join(lines)


def package_button_text(offer: payment_selectors.TopUpOffer) -> str:
    package = offer.package
    text = _("{coins} монет").format(coins=coins(package.credits))
    if package.bonus_credits:
        text += f" +{coins(package.bonus_credits)}"
    price = f"{offer.stars} ⭐" if offer.stars == package.stars else f"{offer.stars} ⭐ ({package.stars})"
    return f"{text} — {price}"


@router.callback_query(LegacyBalanceTopUp.filter())
@router.callback_query(BalanceTopUp.filter())
async def show_packages(callback: CallbackQuery, db_user: User) -> None:
    offers = await db(payment_selectors.topup_offer_list, user=db_user)
    await callback.answer()
    rows = [[InlineKeyboardButton(text=package_button_text(offer),
                                  callback_data=TopUpPackageChoice(package_id=offer.package.pk).pack())]
            for offer in offers]
    rows.append([menu_button(MenuSection.BALANCE, _("◀️ Назад")), main_menu_button()])
    await callback.message.answer(packages_text(offers), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
