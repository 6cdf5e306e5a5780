"""The Telegram Stars purchase's own rows: the packages offered in the bot and the payments flagged for an operator.

Both moved here from ``billing`` with their tables (``topup_packages``, ``flagged_payments``) unchanged.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.formats import count, money
from billing.models import MONEY


class TopUpPackage(models.Model):
    """A Stars package offered in the bot: pay ``stars`` ⭐, receive ``credits`` + ``bonus_credits`` coins."""

    title = models.CharField(_("title"), max_length=64)
    stars = models.PositiveIntegerField(_("price in Telegram Stars"))
    credits = models.DecimalField(_("coins"), **MONEY)
    bonus_credits = models.DecimalField(_("bonus coins"), default=Decimal("0"), **MONEY)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "topup_packages"
        verbose_name = _("top-up package")
        verbose_name_plural = _("top-up packages")
        ordering = ["sort_order", "stars"]
        constraints = [
            models.CheckConstraint(condition=Q(stars__gt=0), name="topup_packages_stars_positive"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="topup_packages_credits_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.title}: {count(self.stars)} ⭐ → {money(self.total_credits)}"

    def clean(self):
        """The database's checks (and a bonus that never takes coins away), said in words: a form shows these
        beside their fields instead of the name of a violated constraint."""
        errors = {}
        if self.stars is not None and self.stars < 1:
            errors["stars"] = _("The price is at least 1 Telegram Star.")
        if self.credits is not None and self.credits <= 0:
            errors["credits"] = _("A package gives more than 0 coins.")
        if self.bonus_credits is not None and self.bonus_credits < 0:
            errors["bonus_credits"] = _("Bonus coins cannot be negative (0 for no bonus).")
        if errors:
            raise ValidationError(errors)

    @property
    def total_credits(self) -> Decimal:
        return self.credits + self.bonus_credits


class FlaggedPayment(models.Model):
    """A Telegram payment credited with nothing because it does not match its invoice (currency, price, payer):
    the Stars were taken, an operator decides (credit by an adjustment, or refund the Stars)."""

    telegram_payment_charge_id = models.CharField(_("charge id"), max_length=255, unique=True)
    payer_telegram_id = models.BigIntegerField(_("payer (Telegram id)"))
    payload = models.TextField(_("invoice payload"), blank=True, default="")
    currency = models.CharField(_("currency"), max_length=8)
    total_amount = models.BigIntegerField(_("amount paid"))
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        db_table = "flagged_payments"
        verbose_name = _("flagged payment")
        verbose_name_plural = _("flagged payments")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.telegram_payment_charge_id
