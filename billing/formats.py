"""Numbers as the back office shows them: the active language's decimal separator and thousands grouping, whatever
``USE_THOUSAND_SEPARATOR`` says (ids and Telegram ids stay ungrouped elsewhere).

Coins always carry two decimals, so a column reads alike from row to row: ``12 345,50`` in Russian (a no-break
space groups the thousands), ``12,345.50`` in English.
"""

from decimal import Decimal

from django.utils.formats import number_format

CENTS = 2


def money(value) -> str:
    """An amount of coins: ``12 345,50`` / ``12,345.50``."""
    return number_format(Decimal(value), decimal_pos=CENTS, force_grouping=True)


def signed_money(value) -> str:
    """A change of a balance, with its sign: ``+12 345,50``, ``-5,00``."""
    value = Decimal(value)
    return ("+" if value > 0 else "") + money(value)


def count(value: int) -> str:
    """A whole number of things (users, stars, generations): ``12 345``."""
    return number_format(int(value), force_grouping=True)


def percent(value) -> str:
    """A percentage without needless zeros: ``15%``, ``12,5%``."""
    value = Decimal(value)
    places = max(-value.normalize().as_tuple().exponent, 0)
    return number_format(value, decimal_pos=min(places, CENTS), force_grouping=True) + "%"


def figure(value) -> str:
    """Coins (a ``Decimal``) as money, anything else as a count: for tables mixing both."""
    return money(value) if isinstance(value, Decimal) else count(value)
