"""Avatars and generations (watch, refund or retry failed ones) and the editable style catalogue.

Avatars and generations are read-only here, superusers included: ledger entries name them, and their state
changes only through ``generations.services``. Their refund and retry actions move money, so they need
``billing.adjust_balance`` besides the model's change permission.
"""

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from billing.exceptions import BillingError
from common.admin import BigTableAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline, TelegramIdSearchMixin, can_move_money
from common.task_admin import task_result_link, task_results_with_arg
from generations import services
from generations.exceptions import GenerationsError
from generations.models import (
    Avatar, AvatarPhoto, AvatarStatus, GenerationStatus, ImageGeneration, StyleCategory, StyleSubcategory,
    StyleTemplate,
)

THUMB = mark_safe('style="max-height:64px;max-width:64px;margin:1px;border-radius:4px"')


def _foreign_keys(model) -> tuple[str, ...]:
    """Every foreign key as a raw id: a select box listing a million users or ledger entries would not load."""
    return tuple(f.name for f in model._meta.get_fields() if f.many_to_one and f.concrete)


def _web_urls(urls) -> list[str]:
    return [u for u in (urls or []) if isinstance(u, str) and u.startswith(("https://", "http://"))]


def _photo_url(photo: AvatarPhoto) -> str | None:
    file = getattr(photo, "file", None)  # a FileField that the photo pipeline may add
    try:
        return file.url if file else None
    except ValueError:
        return None


def _task_link(obj) -> str:
    """The newest task about the object (failed ones first): its tasks take the object's id as first argument."""
    return task_result_link(task_results_with_arg(task_prefix="generations.tasks.", value=str(obj.pk)).first())


def _apply_service(modeladmin, request, objects, *, function, argument: str, done: str, **kwargs) -> None:
    """Call one service per object; refusals become messages, never a server error. A service's None means
    nothing was done for that object (e.g. a refund made before, or no charge behind it)."""
    succeeded, skipped, failed = 0, 0, 0
    for obj in objects:
        try:
            result = function(**{argument: obj}, **kwargs)
        except (GenerationsError, BillingError) as exc:
            failed += 1
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        else:
            if result is None:
                skipped += 1  # e.g. a refund with no charge behind it
            else:
                succeeded += 1
    if succeeded:
        modeladmin.message_user(request, _("%(done)s: %(count)d.") % {"done": done, "count": succeeded},
                                messages.SUCCESS)
    if skipped:
        modeladmin.message_user(request, _("Nothing to do for %(count)d of them.") % {"count": skipped},
                                messages.WARNING)
    if not (succeeded or skipped or failed):
        modeladmin.message_user(request, _("None of the selected items is in a failed state."), messages.WARNING)


def _operator(request) -> str:
    return f"admin:{request.user.get_username()}"


class ServiceWrittenAdmin(TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows only services write: no add, no field edits, no delete; "change" grants the actions alone."""

    change_unlocks_actions = True

    def has_adjust_balance_permission(self, request) -> bool:
        return super().has_change_permission(request) and can_move_money(request)


class AvatarPhotoInline(ReadOnlyInline):
    model = AvatarPhoto
    fk_name = "avatar"
    fields = readonly_fields = ("thumbnail", "upload_order", "validation_status", "width", "height", "file_size",
                                "validation_error")

    @admin.display(description=_("photo"))
    def thumbnail(self, photo: AvatarPhoto) -> str:
        url = _photo_url(photo)
        return format_html('<img src="{}" alt="" {}>', url, THUMB) if url else "—"


@admin.register(Avatar)
class AvatarAdmin(BigTableAdminMixin, ServiceWrittenAdmin):
    list_display = ("name", "user", "status", "failure_reason", "training_type", "gender", "training_progress",
                    "photos_count", "is_main", "created_at")
    list_filter = ("status", "failure_reason", "training_type", "gender", "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "finetune_id", "fal_request_id")
    raw_id_fields = _foreign_keys(Avatar)
    ordering = ("-created_at",)
    inlines = (AvatarPhotoInline,)
    actions = ("refund_failed_training",)
    readonly_fields = ("failure_reason", "training_error", "training_logs", "fal_response_data", "task", "created_at", "updated_at")

    @admin.display(description=_("task"))
    def task(self, avatar: Avatar) -> str:
        return _task_link(avatar)

    @admin.action(description=_("Refund the training of failed avatars"), permissions=["adjust_balance"])
    def refund_failed_training(self, request, queryset):
        failed = queryset.filter(status__in=[AvatarStatus.ERROR, AvatarStatus.CANCELLED])
        _apply_service(self, request, failed, function=services.avatar_training_refund, argument="avatar",
                       done=_("Trainings refunded"), created_by=_operator(request))


@admin.register(ImageGeneration)
class ImageGenerationAdmin(BigTableAdminMixin, ServiceWrittenAdmin):
    list_display = ("created_at", "user", "status", "failure_reason", "generator", "num_images", "results",
                    "prompt_start", "delivered_at")
    list_filter = ("status", "failure_reason", "generation_type", "created_at")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    search_fields = ("original_prompt",)
    raw_id_fields = _foreign_keys(ImageGeneration)
    ordering = ("-created_at",)
    actions = ("retry_failed", "refund_failed")
    readonly_fields = ("results", "result_urls", "failure_reason", "error_message", "delivered_at", "task", "prompt_metadata", "created_at",
                       "completed_at")

    @admin.display(description=_("task"))
    def task(self, generation: ImageGeneration) -> str:
        return _task_link(generation)

    @admin.display(description=_("model"), ordering="generation_type")
    def generator(self, generation: ImageGeneration) -> str:
        return services.generation_model_label(generation=generation)

    @admin.display(description=_("prompt"))
    def prompt_start(self, generation: ImageGeneration) -> str:
        return generation.original_prompt[:60]

    @admin.display(description=_("results"))
    def results(self, generation: ImageGeneration) -> str:
        # Prefer our stored copies; the provider's URLs expire.
        stored = [default_storage.url(name) for name in getattr(generation, "result_files", None) or []]
        urls = stored or _web_urls(generation.result_urls)
        if not urls:
            return "—"
        return format_html_join("", '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" alt="" {1}></a>',
                                ((url, THUMB) for url in urls))

    @admin.action(description=_("Retry failed generations"), permissions=["adjust_balance"])
    def retry_failed(self, request, queryset):
        failed = queryset.filter(status=GenerationStatus.FAILED)
        _apply_service(self, request, failed, function=services.generation_retry, argument="generation",
                       done=_("Generations restarted"))

    @admin.action(description=_("Refund failed generations"), permissions=["adjust_balance"])
    def refund_failed(self, request, queryset):
        failed = queryset.filter(status=GenerationStatus.FAILED)
        _apply_service(self, request, failed, function=services.generation_refund, argument="generation",
                       done=_("Generations refunded"), created_by=_operator(request))


class StyleSubcategoryInline(admin.TabularInline):
    model = StyleSubcategory
    extra = 0
    fields = ("id", "name", "sort_order", "is_active")


@admin.register(StyleCategory)
class StyleCategoryAdmin(admin.ModelAdmin):
    list_display = ("id", "icon", "name", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    search_fields = ("id", "name")
    inlines = (StyleSubcategoryInline,)


@admin.register(StyleSubcategory)
class StyleSubcategoryAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "category", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("category", "is_active")
    list_select_related = ("category",)
    search_fields = ("id", "name")


@admin.register(StyleTemplate)
class StyleTemplateAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "subcategory", "preview", "popularity", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "subcategory__category", "subcategory")
    list_select_related = ("subcategory",)
    search_fields = ("id", "name", "prompt")

    @admin.display(description=_("preview"))
    def preview(self, template: StyleTemplate) -> str:
        urls = _web_urls([template.preview_url])
        return format_html('<img src="{}" alt="" {}>', urls[0], THUMB) if urls else "—"
