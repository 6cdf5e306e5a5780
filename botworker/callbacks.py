"""Callback data of the bot's shared buttons (feature routers keep their own factories beside their handlers).

Nothing here is parsed by hand: each button is a ``CallbackData`` class, filtered with ``.filter()``.
"""

from enum import Enum

from aiogram.filters.callback_data import CallbackData


class MenuSection(str, Enum):
    """The entries of the main menu. Feature routers answer their own section, e.g.
    ``Menu.filter(F.section == MenuSection.AVATARS)``."""

    MAIN = "main"
    AVATARS = "avatars"
    GENERATE = "generate"
    GALLERY = "gallery"
    BALANCE = "balance"
    PROMO = "promo"
    HELP = "help"


class Menu(CallbackData, prefix="menu"):
    section: MenuSection


class BalanceTopUp(CallbackData, prefix="balance_top_up"):
    """Opens the top-up packages. Packs to exactly ``balance_top_up``: the earlier bot's buttons and any message
    still showing them keep working."""


class LegacyBalanceTopUp(CallbackData, prefix="balance_topup"):
    """The earlier bot's twin of ``balance_top_up`` (generation screens); handled the same way."""


class TopUpPackageChoice(CallbackData, prefix="topup_pkg"):
    package_id: int


class LedgerEntry(CallbackData, prefix="ledger"):
    """One of the user's own ledger entries (the details screen); another user's id is refused."""

    entry_id: int
