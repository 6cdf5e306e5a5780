"""Avatars (trained LoRA models of a person), their photos, the style catalogue and generated images."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AvatarStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PHOTOS_UPLOADING = "photos_uploading", _("Uploading photos")
    READY_FOR_TRAINING = "ready_for_training", _("Ready for training")
    TRAINING = "training", _("Training")
    COMPLETED = "completed", _("Ready")
    ERROR = "error", _("Error")
    CANCELLED = "cancelled", _("Cancelled")


class AvatarGender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")
    # Only adopted rows: the earlier service's first enum had OTHER; the wizard offers male and female.
    OTHER = "other", _("Other")


class AvatarTrainingType(models.TextChoices):
    PORTRAIT = "portrait", _("Portrait")
    STYLE = "style", _("Style")


class AvatarType(models.TextChoices):
    CHARACTER = "character", _("Character")
    STYLE = "style", _("Style")
    CUSTOM = "custom", _("Custom")


class PhotoValidationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    VALID = "valid", _("Valid")
    INVALID = "invalid", _("Invalid")
    DUPLICATE = "duplicate", _("Duplicate")


class FalFinetuneType(models.TextChoices):
    FULL = "full", _("Full")
    LORA = "lora", _("LoRA")


class FalPriority(models.TextChoices):
    SPEED = "speed", _("Speed")
    QUALITY = "quality", _("Quality")
    HIGH_RES_ONLY = "high_res_only", _("High resolution only")


class GenerationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class FailureReason(models.TextChoices):
    """Why a provider job failed, as the user is told and the admin shows (issue 17)."""

    CONTENT_POLICY = "content_policy", _("Content policy")
    BAD_INPUT = "bad_input", _("Bad photos or input")
    PROVIDER_ACCOUNT = "provider_account", _("Provider key or account problem")
    PROVIDER_ERROR = "provider_error", _("Provider error")
    TIMEOUT = "timeout", _("Timed out")
    INTERNAL = "internal", _("Our error")


def _failure_reason_field():
    return models.CharField(_("failure reason"), max_length=32, choices=FailureReason.choices, null=True,
                            blank=True)


def _provider_failures_field():
    return models.IntegerField(
        _("provider failures in a row"), default=0,
        help_text=_("Transient provider errors since the last good answer; past FAL_MAX_TRANSIENT_FAILURES the job "
                    "fails and is refunded."),
    )


class Avatar(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="avatars", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100)
    gender = models.CharField(_("gender"), max_length=16, choices=AvatarGender.choices)
    avatar_type = models.CharField(
        _("avatar type"), max_length=16, choices=AvatarType.choices, default=AvatarType.CHARACTER,
    )
    status = models.CharField(_("status"), max_length=32, choices=AvatarStatus.choices, default=AvatarStatus.DRAFT)
    finetune_id = models.CharField(_("finetune id"), max_length=255, null=True, blank=True, db_index=True)
    fal_request_id = models.CharField(_("FAL request id"), max_length=255, null=True, blank=True, db_index=True)
    training_progress = models.IntegerField(_("training progress, %"), null=True, blank=True, default=0)
    training_started_at = models.DateTimeField(_("training started"), null=True, blank=True)
    training_completed_at = models.DateTimeField(_("training finished"), null=True, blank=True)
    fal_mode = models.CharField(_("FAL mode"), max_length=20, null=True, blank=True)
    fal_iterations = models.IntegerField(_("FAL iterations"), null=True, blank=True)
    fal_priority = models.CharField(
        _("FAL priority"), max_length=20, choices=FalPriority.choices, default=FalPriority.QUALITY,
    )
    trigger_word = models.CharField(_("trigger word"), max_length=50, null=True, blank=True)
    lora_rank = models.IntegerField(_("LoRA rank"), null=True, blank=True)
    learning_rate = models.FloatField(_("learning rate"), null=True, blank=True)
    photo_key = models.CharField(_("photo key"), max_length=255, null=True, blank=True, help_text=_("Legacy, unused."))
    preview_key = models.CharField(
        _("preview key"), max_length=255, null=True, blank=True, help_text=_("Legacy, unused."),
    )
    training_type = models.CharField(
        _("training type"), max_length=16, choices=AvatarTrainingType.choices, default=AvatarTrainingType.PORTRAIT,
        db_index=True,
    )
    finetune_type = models.CharField(
        _("finetune type"), max_length=16, choices=FalFinetuneType.choices, default=FalFinetuneType.LORA,
    )
    finetune_comment = models.CharField(_("finetune comment"), max_length=255, null=True, blank=True)
    trigger_phrase = models.CharField(_("trigger phrase"), max_length=100, null=True, blank=True)
    steps = models.IntegerField(_("steps"), null=True, blank=True)
    multiresolution_training = models.BooleanField(_("multi-resolution training"), default=True)
    subject_crop = models.BooleanField(_("subject crop"), default=True)
    create_masks = models.BooleanField(_("create masks"), default=False)
    captioning = models.BooleanField(_("captioning"), default=True)
    diffusers_lora_file_url = models.CharField(_("LoRA file URL"), max_length=500, null=True, blank=True)
    config_file_url = models.CharField(_("config file URL"), max_length=500, null=True, blank=True)
    training_logs = models.TextField(_("training log"), null=True, blank=True)
    training_error = models.TextField(_("training error"), null=True, blank=True)
    webhook_url = models.CharField(_("webhook URL"), max_length=500, null=True, blank=True)
    last_status_check = models.DateTimeField(_("last status check"), null=True, blank=True)
    avatar_data = models.JSONField(_("avatar data"), null=True, blank=True)
    training_config = models.JSONField(_("training settings"), null=True, blank=True)
    fal_response_data = models.JSONField(_("FAL response"), null=True, blank=True, default=dict)
    photos_count = models.IntegerField(_("photos"), null=True, blank=True, default=0)
    generations_count = models.IntegerField(_("generations"), null=True, blank=True, default=0)
    is_main = models.BooleanField(_("main"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, null=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, null=True)
    # Added by this project (migration 0003): the provider job and the money behind it.
    training_endpoint = models.CharField(_("training endpoint"), max_length=100, null=True, blank=True)
    training_attempt = models.IntegerField(
        _("training attempt"), default=0, help_text=_("Part of the charge's idempotency key: one charge per attempt.")
    )
    training_deadline = models.DateTimeField(_("training deadline"), null=True, blank=True)
    charge = models.ForeignKey(
        "billing.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("charge"),
    )
    notified_at = models.DateTimeField(_("user notified"), null=True, blank=True)
    # Added by this project (migration 0009): why a training failed, and the transient errors counted.
    failure_reason = _failure_reason_field()
    provider_failures = _provider_failures_field()

    class Meta:
        db_table = "avatars"
        verbose_name = _("avatar")
        verbose_name_plural = _("avatars")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_main=True), name="avatars_one_main_per_user"),
        ]
        indexes = [models.Index(fields=["status"], name="avatars_status_idx")]

    def __str__(self) -> str:
        return self.name


class AvatarPhoto(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    avatar = models.ForeignKey(
        Avatar, on_delete=models.CASCADE, null=True, related_name="photos", verbose_name=_("avatar"),
    )
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, null=True, related_name="avatar_photos", verbose_name=_("user"),
    )
    minio_key = models.CharField(
        _("storage key"), max_length=255, null=True, blank=True, help_text=_("Object key in the storage."),
    )
    file_hash = models.CharField(_("file hash"), max_length=64, null=True, blank=True, db_index=True)
    upload_order = models.IntegerField(_("order"), null=True, blank=True)
    validation_status = models.CharField(_("check"), 
        max_length=16, choices=PhotoValidationStatus.choices, default=PhotoValidationStatus.PENDING
    )
    file_size = models.IntegerField(_("file size, bytes"), null=True, blank=True)
    width = models.IntegerField(_("width"), null=True, blank=True)
    height = models.IntegerField(_("height"), null=True, blank=True)
    format = models.CharField(_("format"), max_length=10, null=True, blank=True)
    has_face = models.BooleanField(_("face found"), null=True, blank=True)
    quality_score = models.FloatField(_("quality score"), null=True, blank=True)
    validation_error = models.TextField(_("check error"), null=True, blank=True)
    photo_metadata = models.JSONField(_("metadata"), null=True, blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now, null=True)
    validated_at = models.DateTimeField(_("checked"), null=True, blank=True)
    # Added by this project (migration 0003): the file itself, through Django's storage API.
    file = models.FileField(_("file"), upload_to="avatar-photos/%Y/%m/", max_length=255, null=True, blank=True)

    class Meta:
        db_table = "avatar_photos"
        verbose_name = _("avatar photo")
        verbose_name_plural = _("avatar photos")
        ordering = ["upload_order", "created_at"]
        constraints = [
            # Two photos of an album arriving at once cannot both be kept: duplicate detection is race-safe.
            models.UniqueConstraint(
                fields=["avatar", "file_hash"], condition=Q(validation_status="valid"),
                name="avatar_photos_unique_valid_hash",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.avatar.name if self.avatar_id else '—'} #{self.upload_order or 0}"


class StyleCategory(models.Model):
    id = models.CharField(_("key"), primary_key=True, max_length=50)
    name = models.CharField(_("name"), max_length=100)
    icon = models.CharField(_("icon"), max_length=10, default="")
    description = models.CharField(_("description"), max_length=500, default="", blank=True)
    sort_order = models.IntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, null=True)

    class Meta:
        db_table = "style_categories"
        verbose_name = _("style category")
        verbose_name_plural = _("style categories")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return f"{self.icon} {self.name}".strip()


class StyleSubcategory(models.Model):
    id = models.CharField(_("key"), primary_key=True, max_length=50)
    category = models.ForeignKey(
        StyleCategory, on_delete=models.CASCADE, null=True, related_name="subcategories", verbose_name=_("section"),
    )
    name = models.CharField(_("name"), max_length=100)
    sort_order = models.IntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, null=True)

    class Meta:
        db_table = "style_subcategories"
        verbose_name = _("style subcategory")
        verbose_name_plural = _("style subcategories")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class StyleTemplate(models.Model):
    id = models.CharField(_("key"), primary_key=True, max_length=50)
    subcategory = models.ForeignKey(
        StyleSubcategory, on_delete=models.CASCADE, null=True, related_name="templates", verbose_name=_("subsection"),
    )
    name = models.CharField(_("name"), max_length=100)
    prompt = models.CharField(_("prompt"), max_length=1000)
    preview_url = models.CharField(_("preview URL"), max_length=500, null=True, blank=True)
    tags = models.JSONField(_("tags"), null=True, blank=True, default=list)
    popularity = models.IntegerField(_("popularity"), default=0)
    sort_order = models.IntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, null=True)

    class Meta:
        db_table = "style_templates"
        verbose_name = _("style template")
        verbose_name_plural = _("style templates")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class ImageGeneration(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, null=True, related_name="generations", verbose_name=_("user"),
    )
    avatar = models.ForeignKey(
        Avatar, on_delete=models.SET_NULL, null=True, blank=True, related_name="generations", verbose_name=_("avatar"),
    )
    template = models.ForeignKey(
        StyleTemplate, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("style template"),
    )
    generation_type = models.CharField(_("generation type"), max_length=50, null=True, blank=True)
    source_model = models.CharField(_("model"), max_length=100, null=True, blank=True)
    original_prompt = models.CharField(_("prompt"), max_length=1000)
    final_prompt = models.CharField(_("prompt sent"), max_length=5000)
    quality_preset = models.CharField(_("quality preset"), max_length=50, null=True, blank=True)
    aspect_ratio = models.CharField(_("aspect ratio"), max_length=10, null=True, blank=True)
    num_images = models.IntegerField(_("images"), null=True, blank=True, default=1)
    status = models.CharField(
        _("status"), max_length=16, choices=GenerationStatus.choices, default=GenerationStatus.PENDING,
    )
    result_urls = models.JSONField(_("provider's result URLs"), null=True, blank=True)
    generation_time = models.FloatField(_("generation time, s"), null=True, blank=True)
    error_message = models.CharField(_("error"), max_length=1000, null=True, blank=True)
    prompt_metadata = models.JSONField(_("prompt details"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, null=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    is_favorite = models.BooleanField(_("favourite"), default=False)
    is_saved = models.BooleanField(_("saved"), default=True)
    # Added by this project (migration 0003): the provider job, the money behind it and delivery.
    provider_endpoint = models.CharField(_("provider endpoint"), max_length=100, null=True, blank=True)
    provider_request_id = models.CharField(_("provider request id"), max_length=255, null=True, blank=True,
                                           db_index=True)
    attempt = models.IntegerField(
        _("attempt"), default=0, help_text=_("Part of the charge's idempotency key: one charge per attempt.")
    )
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    last_status_check = models.DateTimeField(_("last status check"), null=True, blank=True)
    charge = models.ForeignKey(
        "billing.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("charge"),
    )
    result_files = models.JSONField(_("stored result files"), null=True, blank=True, default=list)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    # Added by this project (migration 0005): the bot's one-time token of the request, so a double tap on the
    # image-count button creates (and charges) one generation.
    request_token = models.CharField(max_length=32, null=True, blank=True, unique=True, editable=False)
    # Added by this project (migration 0009): why it failed, the transient errors counted, and the claim of its
    # delivery (``delivered_at`` is set only once Telegram accepted the album or the notice).
    failure_reason = _failure_reason_field()
    provider_failures = _provider_failures_field()
    delivery_claimed_at = models.DateTimeField(_("delivery started"), null=True, blank=True)

    class Meta:
        db_table = "image_generations"
        verbose_name = _("image generation")
        verbose_name_plural = _("image generations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="image_gen_user_created_idx"),
            models.Index(fields=["status", "created_at"], name="image_gen_status_created_idx"),
            models.Index(fields=["created_at"], name="image_gen_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.original_prompt[:40]} ({self.get_status_display()})"


class UserFavoriteTemplate(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, null=True, related_name="favorite_templates")
    template = models.ForeignKey(StyleTemplate, on_delete=models.CASCADE, null=True, related_name="favorited_by")
    created_at = models.DateTimeField(default=timezone.now, null=True)

    class Meta:
        db_table = "user_favorite_templates"
        verbose_name = _("favourite style")
        verbose_name_plural = _("favourite styles")
