"""The Telegram users of the bot (not Django's auth users, who are the operators)."""

import uuid

from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _


class UserProfileStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    BLOCKED = "blocked", _("Blocked")


class User(models.Model):
    """A Telegram user. Table ``users`` of the legacy schema (``telegram_id`` widened to bigint)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    telegram_id = models.BigIntegerField(_("Telegram id"), unique=True)
    first_name = models.CharField(_("first name"), max_length=64)
    last_name = models.CharField(_("last name"), max_length=64, null=True, blank=True)
    username = models.CharField(_("username"), max_length=64, null=True, blank=True)
    language_code = models.CharField(_("language"), max_length=8, default="ru")
    timezone = models.CharField(_("time zone"), max_length=32, null=True, blank=True)
    is_premium = models.BooleanField(_("Telegram Premium"), default=False)
    is_bot = models.BooleanField(_("bot"), default=False)
    is_blocked = models.BooleanField(_("blocked by an operator"), default=False)
    created_at = models.DateTimeField(_("joined"), default=now)
    updated_at = models.DateTimeField(_("updated"), default=now)
    # Added by this project (migration 0002).
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    bot_blocked_at = models.DateTimeField(
        _("blocked the bot at"), null=True, blank=True, help_text=_("When Telegram said the user blocked the bot.")
    )

    class Meta:
        db_table = "users"
        verbose_name = _("bot user")
        verbose_name_plural = _("bot users")
        indexes = [
            models.Index(fields=["created_at"], name="users_created_at_idx"),
            models.Index(fields=["username"], name="users_username_idx"),
            models.Index(fields=["last_activity_at"], name="users_last_activity_idx"),
        ]

    def __str__(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        handle = f" @{self.username}" if self.username else ""
        return f"{name}{handle} ({self.telegram_id})"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def save(self, *args, **kwargs):
        self.updated_at = now()
        super().save(*args, **kwargs)


class UserState(models.Model):
    """The bot's conversation state (aiogram FSM) of one user: ``{"state": ..., "data": {...}}``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, null=True, related_name="state")
    state_data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, null=True)
    updated_at = models.DateTimeField(default=now, null=True)

    class Meta:
        db_table = "user_states"
        verbose_name = _("conversation state")
        verbose_name_plural = _("conversation states")


class UserProfile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, null=True, related_name="profile")
    avatar_path = models.CharField(max_length=255, null=True, blank=True)
    bio = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, null=True)
    updated_at = models.DateTimeField(default=now, null=True)

    class Meta:
        db_table = "user_profiles"
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")


class UserSettings(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="settings")
    default_aspect_ratio = models.CharField(max_length=10, default="1:1")
    quick_generation_mode = models.BooleanField(default=False)
    auto_enhance_prompts = models.BooleanField(default=True)
    language_preference = models.CharField(max_length=5, default="ru")
    show_technical_details = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        db_table = "user_settings"
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")


class UserActivity(models.Model):
    """One row per user and day (of the configured ``TIME_ZONE``) on which the user sent the bot anything: the
    source of the daily, weekly and monthly active users. Written at most once per user and day by
    ``accounts.services.user_upsert_from_telegram``."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activity_days", verbose_name=_("user"))
    day = models.DateField(_("day"))

    class Meta:
        db_table = "user_activity_days"
        verbose_name = _("active day")
        verbose_name_plural = _("active days")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="user_activity_days_user_day_uniq")]
        indexes = [models.Index(fields=["day"], name="user_activity_days_day_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day.isoformat()}"
