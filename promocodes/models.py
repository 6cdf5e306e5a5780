"""Promo codes and their activations."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}


class PromokodeType(models.TextChoices):
    BALANCE = "balance", _("Coins at once")
    BONUS = "bonus", _("Bonus on the next top-up")
    DISCOUNT = "discount", _("Discount on the next purchase")


# The one amount each type uses; the others stay empty.
AMOUNT_FIELDS = {PromokodeType.BALANCE: "balance_amount", PromokodeType.BONUS: "bonus_amount",
                 PromokodeType.DISCOUNT: "discount_percent"}


class PromokodeStatus(models.TextChoices):
    """A derived status (not stored): see ``Promokode.status``."""

    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    EXPIRED = "expired", _("Expired")
    EXHAUSTED = "exhausted", _("Used up")
    NOT_STARTED = "not_started", _("Not started yet")


class Promokode(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("code"), max_length=50, unique=True, help_text=_("Stored upper-case."))
    type = models.CharField(_("type"), max_length=20, choices=PromokodeType.choices)
    balance_amount = models.DecimalField(_("coins"), null=True, blank=True, **MONEY)
    bonus_amount = models.DecimalField(_("bonus coins"), null=True, blank=True, **MONEY)
    discount_percent = models.DecimalField(_("discount, %"), max_digits=5, decimal_places=2, null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("total uses"), null=True, blank=True, help_text=_("Empty: unlimited."))
    current_uses = models.PositiveIntegerField(_("used"), default=0)
    max_uses_per_user = models.PositiveIntegerField(_("uses per user"), null=True, blank=True, default=1)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    description = models.TextField(_("description"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.CharField(_("created by"), max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        db_table = "promokodes"
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(current_uses__lte=models.F("max_uses")),
                name="promokodes_uses_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        self.code = (self.code or "").strip().upper()
        if self.type in AMOUNT_FIELDS:  # an amount the type does not use would only mislead whoever reads it
            for name in set(AMOUNT_FIELDS.values()) - {AMOUNT_FIELDS[self.type]}:
                setattr(self, name, None)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)

    @property
    def remaining_uses(self) -> int | None:
        return None if self.max_uses is None else max(self.max_uses - self.current_uses, 0)

    @property
    def status(self) -> str:
        now = timezone.now()
        if not self.is_active:
            return PromokodeStatus.INACTIVE
        if self.valid_from and now < self.valid_from:
            return PromokodeStatus.NOT_STARTED
        if self.valid_until and now > self.valid_until:
            return PromokodeStatus.EXPIRED
        if self.max_uses is not None and self.current_uses >= self.max_uses:
            return PromokodeStatus.EXHAUSTED
        return PromokodeStatus.ACTIVE


class PromokodeUsage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    promokode = models.ForeignKey(Promokode, on_delete=models.PROTECT, related_name="usages",
                                  verbose_name=_("promo code"))
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="promokode_usages",
                             verbose_name=_("user"))
    amount_added = models.DecimalField(_("coins added"), null=True, blank=True, **MONEY)
    bonus_added = models.DecimalField(_("bonus added"), null=True, blank=True, **MONEY)
    package_used = models.CharField(_("package"), max_length=50, null=True, blank=True)
    used_at = models.DateTimeField(_("activated"), default=timezone.now)
    # Added by this project: a bonus or discount waits for the user's next purchase, then is consumed once.
    consumed_at = models.DateTimeField(_("consumed"), null=True, blank=True)
    # A discount is held for one invoice from its pre-checkout until its payment (or until the hold expires), so
    # two invoices carrying the same discount cannot both be paid at the lower price.
    reserved_payload = models.CharField(_("held for the invoice"), max_length=128, null=True, blank=True)
    reserved_until = models.DateTimeField(_("held until"), null=True, blank=True)

    class Meta:
        db_table = "promokode_usages"
        verbose_name = _("promo code activation")
        verbose_name_plural = _("promo code activations")
        indexes = [
            models.Index(fields=["user", "promokode"], name="promokode_usages_user_code_idx"),
            models.Index(fields=["used_at"], name="promokode_usages_used_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.promokode} → {self.user}"
