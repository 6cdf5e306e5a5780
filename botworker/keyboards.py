"""Inline keyboards shared by several routers. Button texts are Russian, translatable."""

from decimal import Decimal

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from django.utils.translation import gettext as _

from botworker.callbacks import BalanceTopUp, Menu, MenuSection


def coins(amount: Decimal) -> str:
    """Coins as users read them: whole numbers without ``.00``."""
    amount = Decimal(amount)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return text.replace(",", " ")


def menu_button(section: MenuSection, text: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=Menu(section=section).pack())


def main_menu_button() -> InlineKeyboardButton:
    return menu_button(MenuSection.MAIN, _("🏠 Главное меню"))


def top_up_button(text: str | None = None) -> InlineKeyboardButton:
    """The top-up button (``balance_top_up``) for any screen: balance, photo upload, training confirmation..."""
    return InlineKeyboardButton(text=text or _("💳 Пополнить баланс"), callback_data=BalanceTopUp().pack())


def main_menu_keyboard(*, balance: Decimal | None = None) -> InlineKeyboardMarkup:
    balance_text = _("💰 Баланс") if balance is None else _("💰 Баланс ({coins})").format(coins=coins(balance))
    return InlineKeyboardMarkup(inline_keyboard=[
        [menu_button(MenuSection.AVATARS, _("🎭 Мои аватары")), menu_button(MenuSection.GENERATE, _("🎨 Создать фото"))],
        [menu_button(MenuSection.GALLERY, _("🖼️ Мои работы")), menu_button(MenuSection.BALANCE, balance_text)],
        [menu_button(MenuSection.PROMO, _("🎁 Промокод")), menu_button(MenuSection.HELP, _("❓ Помощь"))],
    ])


def back_to_menu_keyboard(*extra_rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[*extra_rows, [main_menu_button()]])
