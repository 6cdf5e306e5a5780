"""State that the bot worker keeps in the database: broadcasts and their per-recipient delivery rows, the update
ids already claimed (so a webhook re-delivery or a second server process handles an update once), and the updates
that failed for good (so an operator sees them)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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


class BroadcastAudience(models.TextChoices):
    ALL = "all", _("All users")
    PREMIUM = "premium", _("Telegram Premium users")
    WITH_BALANCE = "with_balance", _("Users with a positive balance")
    INACTIVE = "inactive", _("Inactive for N days")
    TELEGRAM_IDS = "telegram_ids", _("A list of Telegram ids")


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Completed")


class RecipientStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BLOCKED = "blocked", _("Blocked the bot")


class Broadcast(models.Model):
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"), help_text=_("Telegram HTML: <b>, <i>, <a href>, <code>..."))
    photo = models.ImageField(_("photo"), upload_to="broadcasts/", null=True, blank=True)
    button_text = models.CharField(_("button text"), max_length=64, blank=True, default="")
    button_url = models.URLField(_("button link"), blank=True, default="")
    audience = models.CharField(_("audience"), max_length=20, choices=BroadcastAudience.choices,
                                default=BroadcastAudience.ALL)
    inactive_days = models.PositiveIntegerField(_("inactive for days"), null=True, blank=True)
    telegram_ids = models.TextField(_("Telegram ids"), blank=True, default="",
                                    help_text=_("For the list audience: ids separated by spaces, commas or lines."))
    status = models.CharField(_("status"), max_length=16, choices=BroadcastStatus.choices,
                              default=BroadcastStatus.DRAFT)
    task_id = models.CharField(
        _("delivery task id"), max_length=64, blank=True, default="", help_text=_("The last delivery task."),
    )
    created_by = models.CharField(_("created by"), max_length=150, blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The shared send schedule: every worker reserves its batch's time slot here, so the rate holds overall.
    next_slot_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Telegram's file_id of the photo after its first upload, so later sends do not upload it again.
    photo_file_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    # Why delivery paused by itself (the photo cannot be read, Telegram refuses it, ...): shown to the operator.
    last_error = models.TextField(_("last error"), blank=True, default="", editable=False)

    class Meta:
        db_table = "bot_broadcasts"
        # In Russian the object of "Add …", "Change …" (accusative), unlike the recipients' "broadcast" field.
        verbose_name = pgettext_lazy("model name", "broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]
        constraints = [
            # One running broadcast at a time, even when two operators start different ones at the same moment:
            # the send schedule of the running broadcast is the bot's whole broadcast traffic.
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="running"),
                                    name="bot_broadcast_one_running"),
        ]

    def __str__(self) -> str:
        return self.title


class BroadcastRecipient(models.Model):
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="recipients",
                                  verbose_name=_("broadcast"))
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="broadcast_deliveries",
                             verbose_name=_("user"))
    telegram_id = models.BigIntegerField(_("Telegram id"))
    status = models.CharField(_("status"), max_length=16, choices=RecipientStatus.choices,
                              default=RecipientStatus.PENDING)
    error = models.CharField(_("error"), max_length=500, blank=True, default="")
    message_id = models.BigIntegerField(_("message id"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "bot_broadcast_recipients"
        verbose_name = _("broadcast recipient")
        verbose_name_plural = _("broadcast recipients")
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "user"], name="bot_broadcast_recipient_once"),
        ]
        indexes = [models.Index(fields=["broadcast", "status"], name="bot_broadcast_rcpt_status_idx")]

    def __str__(self) -> str:
        return f"{self.broadcast} → {self.telegram_id}"
