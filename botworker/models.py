"""State that the bot worker keeps in the database: the update ids already claimed (so a webhook re-delivery or a
second server process handles an update once), and the updates that failed for good (so an operator sees them).
Broadcasts live in the ``broadcasts`` app."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ProcessedUpdate(models.Model):
    """An ``update_id`` claimed by a web process (``processed_at``: when), ``done`` once its handling ended; old rows
    are pruned. A claim that never got ``done`` (its process died, or could not un-claim it) expires, see
    ``botworker.webhook``."""

    update_id = models.BigIntegerField(primary_key=True)
    processed_at = models.DateTimeField(default=timezone.now, db_index=True)
    done = models.BooleanField(default=False)

    class Meta:
        db_table = "bot_processed_updates"
        verbose_name = _("handled update")
        verbose_name_plural = _("handled updates")


class FailedUpdateResolution(models.TextChoices):
    HANDLED = "handled", _("Handled again")
    MARKED = "marked", _("Marked resolved")


class FailedUpdate(models.Model):
    """An update that kept failing for an infrastructure reason (the database was down) after the poller's retries:
    recorded instead of dropped, for an operator to handle again or mark resolved."""

    update_id = models.BigIntegerField(_("update id"), unique=True)
    update_type = models.CharField(_("update type"), max_length=64, blank=True, default="")
    telegram_user_id = models.BigIntegerField(_("Telegram user id"), null=True, blank=True, db_index=True)
    payload = models.JSONField(_("update"), help_text=_("The update as Telegram sent it."))
    error_type = models.CharField(_("error"), max_length=200)
    error_message = models.TextField(_("error message"), blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    first_failed_at = models.DateTimeField(_("first failed"), default=timezone.now)
    last_failed_at = models.DateTimeField(_("last failed"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=150, blank=True, default="")
    resolution = models.CharField(_("resolution"), max_length=16, choices=FailedUpdateResolution.choices, blank=True,
                                  default="")

    class Meta:
        db_table = "bot_failed_updates"
        verbose_name = _("failed update")
        verbose_name_plural = _("failed updates")
        ordering = ["-last_failed_at"]

    def __str__(self) -> str:
        return gettext("Update %(id)s") % {"id": self.update_id}
