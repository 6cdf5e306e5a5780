"""The ledger (read-only, exportable) and balances (read-only).

Money changes only through ``billing.services``: the users' "adjust balance" action, and the Stars refund button
that ``payments.admin`` adds to a ledger entry's page.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.admin_display import entry_amount, entry_author, entry_balance_after, entry_description, money_column
from billing.models import Transaction, UserBalance
from common.admin import BigTableAdminMixin, ReadOnlyAdminMixin, TelegramIdSearchMixin, csv_streaming_response

CSV_FIELDS = (
    "id", "created_at", "user__telegram_id", "user__username", "type", "status", "amount", "balance_after",
    "description", "created_by", "idempotency_key", "refund_of_id",
)


@admin.register(Transaction)
class TransactionAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "created_at", "user", "type", "status", "amount_display", "balance_after_display",
        "description_display", "author_display",
    )
    list_filter = ("type", "status", "created_at")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    search_fields = ("description", "created_by", "idempotency_key")
    search_help_text = _("A Telegram id (exact), or part of the description, author or idempotency key.")
    ordering = ("-created_at", "-id")
    fields = (
        "user", "amount_display", "type", "status", "balance_after_display", "description_display",
        "author_display", "created_at", "idempotency_key", "refund_of", "extra_data",
    )
    readonly_fields = fields
    author_display = entry_author
    amount_display = entry_amount
    balance_after_display = entry_balance_after
    description_display = entry_description

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export-csv/", self.admin_site.admin_view(self.export_csv_view), name="%s_%s_export_csv" % info),
            *super().get_urls(),
        ]

    def export_csv_view(self, request):
        """The changelist's current filters and search, as CSV, streamed from a server-side cursor."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = changelist.queryset.order_by("-created_at", "-id").values_list(*CSV_FIELDS).iterator(chunk_size=2000)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_streaming_response(filename=f"ledger-{stamp}.csv", header=CSV_FIELDS, rows=rows)


@admin.register(UserBalance)
class UserBalanceAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "coins_display", "updated_at")
    list_select_related = ("user",)
    ordering = ("-coins",)
    search_fields = ("user__username",)
    fields = readonly_fields = ("user", "coins_display", "created_at", "updated_at")
    coins_display = money_column("coins", description=_("coins"))
