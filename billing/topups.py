"""What "top-ups" means, once for every place that counts them (the stats page, ``add_balance --stats``): coins put
on balances from outside, either bought with Telegram Stars (``TOPUP``) or put by an operator (``ADMIN_TOPUP``).
Promo codes, bonuses, adjustments and refunds are not top-ups."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from billing.models import TransactionType

STARS = TransactionType.TOPUP
OPERATOR = TransactionType.ADMIN_TOPUP
TOPUP_TYPES = (STARS, OPERATOR)

TOPUPS_LABEL = _("Top-ups")
STARS_LABEL = _("Top-ups via Telegram Stars")
OPERATOR_LABEL = _("Top-ups by operators")


@dataclass(frozen=True)
class TopUps:
    """Top-ups of a period: coins and number of entries, by kind."""

    stars: Decimal = Decimal("0")
    stars_count: int = 0
    operator: Decimal = Decimal("0")
    operator_count: int = 0

    @property
    def total(self) -> Decimal:
        return self.stars + self.operator

    @property
    def count(self) -> int:
        return self.stars_count + self.operator_count

    def rows(self) -> list[tuple[str, Decimal, int]]:
        """(label, coins, entries) for the total and each kind, in the order both screens show them."""
        return [
            (TOPUPS_LABEL, self.total, self.count),
            (STARS_LABEL, self.stars, self.stars_count),
            (OPERATOR_LABEL, self.operator, self.operator_count),
        ]
