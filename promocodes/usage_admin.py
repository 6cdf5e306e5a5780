"""Promo code activations: their own read-only list (searchable by the user's Telegram id) and the newest ones on a
user's page; ``backoffice.user_admin`` registers the list and adds the inline to the users' admin."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing.admin_display import money_column
from common.admin import BigTableAdminMixin, NewestRowsInline, ReadOnlyAdminMixin, TelegramIdSearchMixin
from promocodes.models import PromokodeUsage

RECENT_ROWS = 10


class PromokodeUsageAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("used_at", "promokode", "user", "amount_added_display", "bonus_added_display", "consumed_at")
    list_select_related = ("promokode", "user")
    search_fields = ("=promokode__code",)
    search_help_text = _("A Telegram id (exact), or a code (exact).")
    ordering = ("-used_at",)
    fields = readonly_fields = ("used_at", "promokode", "user", "amount_added_display", "bonus_added_display",
                                "package_used", "consumed_at")
    amount_added_display = money_column("amount_added", description=_("coins added"))
    bonus_added_display = money_column("bonus_added", description=_("bonus added"))


class UserPromoUsagesInline(NewestRowsInline):
    model = PromokodeUsage
    fk_name = "user"
    limit = RECENT_ROWS
    fields = readonly_fields = ("used_at", "promokode", "amount_added_display", "bonus_added_display",
                                "consumed_at")
    ordering = ("-used_at",)
    verbose_name_plural = _("promo code activations (the newest 10)")
    amount_added_display = money_column("amount_added", description=_("coins added"))
    bonus_added_display = money_column("bonus_added", description=_("bonus added"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("promokode")
