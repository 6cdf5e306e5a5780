"""Balances and the ledger. Money moves only through ``billing.services``."""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.exceptions import LedgerEntryImmutable
from billing.formats import money, signed_money

MONEY = {"max_digits": 14, "decimal_places": 2}


class TransactionType(models.TextChoices):
    TOPUP = "topup", _("Top-up (Telegram Stars)")
    ADMIN_TOPUP = "admin_topup", _("Top-up by an operator")
    ADJUSTMENT = "adjustment", _("Adjustment by an operator")
    PROMO = "promo", _("Promo code")
    BONUS = "bonus", _("Bonus")
    CHARGE = "charge", _("Charge")
    REFUND = "refund", _("Refund")
    PAYMENT_REFUND = "payment_refund", _("Payment refunded")
    OPENING_BALANCE = "opening_balance", _("Opening balance")


class TransactionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class UserBalance(models.Model):
    """One row per user; ``coins`` never goes below zero (a CHECK constraint backs the services)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="balance",
                                verbose_name=_("user"))
    coins = models.DecimalField(_("coins"), default=Decimal("0"), **MONEY)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        db_table = "user_balances"
        verbose_name = _("balance")
        verbose_name_plural = _("balances")
        permissions = [("adjust_balance", _("Can adjust user balances"))]
        constraints = [models.CheckConstraint(condition=Q(coins__gte=0), name="user_balances_coins_non_negative")]
        indexes = [models.Index(fields=["coins"], name="user_balances_coins_idx")]

    def __str__(self) -> str:
        return money(self.coins)


class TransactionQuerySet(models.QuerySet):
    def delete(self):
        raise LedgerEntryImmutable()

    delete.alters_data = True
    delete.queryset_only = True


class Transaction(models.Model):
    """One ledger entry. Append-only: the balance equals the sum of a user's completed entries; neither an entry
    nor a queryset of entries can be deleted (``LedgerEntryImmutable``), in the admin or anywhere else."""

    id = models.BigAutoField(_("No."), primary_key=True)
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="transactions",
                             verbose_name=_("user"))
    amount = models.DecimalField(_("amount"), help_text=_("Signed: positive credits, negative debits."), **MONEY)
    type = models.CharField(_("type"), max_length=32, choices=TransactionType.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=TransactionStatus.choices, default=TransactionStatus.COMPLETED
    )
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    extra_data = models.JSONField(_("extra data"), default=dict, blank=True)
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, null=True, blank=True, unique=True)
    refund_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunded_by", verbose_name=_("reverses"),
        help_text=_("The entry this one reverses; at most one reversal per entry."),
    )
    created_by = models.CharField(_("made by"), max_length=150, blank=True, default="")
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        db_table = "transactions"
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="transactions_user_created_idx"),
            models.Index(fields=["created_at"], name="transactions_created_idx"),
            models.Index(fields=["type", "created_at"], name="transactions_type_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="transactions_balance_after_non_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="transactions_amount_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {signed_money(self.amount)} → {money(self.balance_after)}"

    def delete(self, *args, **kwargs):
        raise LedgerEntryImmutable()
