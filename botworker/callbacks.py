"""Callback data of every button of the bot, in one place: routers import their buttons from here and never from
each other (the avatar card's "generate" button and the generation screen's "my avatars" button cross over).

Nothing here is parsed by hand: each button is a ``CallbackData`` class, filtered with ``.filter()``.

Any callback data is possible (an outdated message, a forged client), so a button that does not unpack — a field
of the wrong type or shape — matches no handler, and the fallback router answers it as an unknown button. A
field's type says what our buttons carry: ``ButtonText`` for text fields.
"""

from enum import Enum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import StringConstraints

# Text a button of ours carries (actions, ids, hex UUIDs, slugs, numbers): never control characters, which only
# forged data has and which must not reach the database (PostgreSQL refuses NUL in text).
ButtonText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]


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


class AvatarCb(CallbackData, prefix="av"):
    """``action`` on the avatar ``avatar`` (UUID hex); ``index`` is a list or photo position."""

    action: ButtonText
    avatar: ButtonText = ""
    index: int = 0


class GenderCb(CallbackData, prefix="avg"):
    gender: ButtonText


class TrainingTypeCb(CallbackData, prefix="avt"):
    training_type: ButtonText


class GenCb(CallbackData, prefix="gen"):
    """``action`` with a ``value``: an avatar (UUID hex), a catalogue id, a ratio ("3x4") or a count."""

    action: ButtonText
    value: ButtonText = ""


class GalleryCb(CallbackData, prefix="gal"):
    """``action`` on the card at ``index``; ``item`` (UUID hex) names the image the button was drawn for."""

    action: ButtonText
    index: int = 0
    item: ButtonText = ""
class ImagenCb(CallbackData, prefix="imagen"):
    """Imagen 4 "by description" (no avatar): ``start``, then ``ratio`` with a ratio ("3x4") as ``value``."""

    action: ButtonText
    value: ButtonText = ""
