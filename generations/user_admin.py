"""A user's avatars and generations on their page in the users' admin (newest first, read-only, with "Show all");
``backoffice.user_admin`` adds these inlines to ``accounts.admin.UserAdmin``, which imports nothing of this app."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin import NewestRowsInline
from generations.models import Avatar, ImageGeneration

RECENT_ROWS = 10


class UserAvatarsInline(NewestRowsInline):
    model = Avatar
    fk_name = "user"
    limit = RECENT_ROWS
    fields = readonly_fields = ("name", "status", "training_type", "gender", "is_main", "created_at")
    ordering = ("-created_at",)
    show_change_link = True
    verbose_name_plural = _("avatars (the newest 10)")


class UserGenerationsInline(NewestRowsInline):
    model = ImageGeneration
    fk_name = "user"
    limit = RECENT_ROWS
    fields = readonly_fields = ("created_at", "status", "generation_type", "num_images", "prompt_start")
    ordering = ("-created_at",)
    show_change_link = True
    verbose_name_plural = _("generations (the newest 10)")

    @admin.display(description=_("prompt"))
    def prompt_start(self, generation: ImageGeneration) -> str:
        return generation.original_prompt[:60]
