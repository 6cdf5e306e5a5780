"""The ledger (read-only, exportable) and balances (read-only).

Money changes only through ``billing.services``: "Adjust balance" (``billing.balance_admin``, on the users' admin),
and the Stars refund button that ``payments.admin`` adds to a ledger entry's page.
"""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from billing.admin_display import entry_amount, entry_author, entry_balance_after, entry_description, money_column
from billing.ledger_texts import description_display
from billing.models import Transaction, TransactionStatus, TransactionType, UserBalance
from common.admin import (
    BigTableAdminMixin, ReadOnlyAdminMixin, TelegramIdSearchMixin, csv_cell, csv_streaming_response,
    short_datetime_column, truncated,
)

# The export's columns: (header, value path). Types and statuses are written as the operator reads them.
CSV_COLUMNS = (
    (_("No."), "id"), (_("when"), "created_at"), (_("Telegram id"), "user__telegram_id"),
    (_("first name"), "user__first_name"), (_("last name"), "user__last_name"), (_("username"), "user__username"),
    (_("type"), "type"), (_("status"), "status"), (_("amount"), "amount"), (_("balance after"), "balance_after"),
    (_("description"), "description"), (_("made by"), "created_by"), (_("idempotency key"), "idempotency_key"),
    (_("reverses"), "refund_of_id"),
)
# Which decimal separator an export uses: ?decimal=comma or ?decimal=point, else CSV_DECIMAL_SEPARATOR.
DECIMAL_PARAM = "decimal"
DECIMAL_SEPARATORS = {"comma": ",", "point": "."}


@admin.register(Transaction)
class TransactionAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # Chosen to fit a 1366 px screen beside the filters: the status is a filter (nearly all are completed), long
    # names and descriptions are cut, with the whole text on hover.
    list_display = (
        "id", "created_short", "user_short", "type", "amount_display", "balance_after_display", "description_short",
        "author_short",
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
    created_short = short_datetime_column("created_at", description=_("when"))

    @admin.display(description=_("user"), ordering="user")
    def user_short(self, entry: Transaction) -> str:
        return truncated(entry.user, 24)

    @admin.display(description=_("made by"), ordering="created_by")
    def author_short(self, entry: Transaction) -> str:
        return truncated(entry_author(self, entry), 20)

    @admin.display(description=_("description"))
    def description_short(self, entry: Transaction) -> str:
        return truncated(description_display(entry.description), 40)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export-csv/", self.admin_site.admin_view(self.export_csv_view), name="%s_%s_export_csv" % info),
            *super().get_urls(),
        ]

    def export_csv_view(self, request):
        """The changelist's current filters and search, as CSV for Excel, streamed from a server-side cursor."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        separator = DECIMAL_SEPARATORS.get(request.GET.pop(DECIMAL_PARAM, [""])[0], settings.CSV_DECIMAL_SEPARATOR)
        changelist = self.get_changelist_instance(request)
        values = changelist.queryset.order_by("-created_at", "-id").values_list(*(f for _h, f in CSV_COLUMNS))
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_streaming_response(filename=f"ledger-{stamp}.csv", header=[h for h, _f in CSV_COLUMNS],
                                      rows=_csv_rows(values.iterator(chunk_size=2000), separator=separator))


def _csv_rows(values, *, separator: str):
    # The rows are written after the view returns: in the language of the request, captured now.
    language = translation.get_language()
    types, statuses = dict(TransactionType.choices), dict(TransactionStatus.choices)
    type_at, status_at, description_at = (
        [f for _h, f in CSV_COLUMNS].index(name) for name in ("type", "status", "description")
    )
    for row in values:
        with translation.override(language):
            row = list(row)
            row[type_at] = str(types.get(row[type_at], row[type_at]))
            row[status_at] = str(statuses.get(row[status_at], row[status_at]))
            row[description_at] = description_display(row[description_at])
            yield [csv_cell(value, decimal_separator=separator) for value in row]


@admin.register(UserBalance)
class UserBalanceAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "coins_display", "updated_at")
    list_select_related = ("user",)
    ordering = ("-coins",)
    search_fields = ("user__username",)
    fields = readonly_fields = ("user", "coins_display", "created_at", "updated_at")
    coins_display = money_column("coins", description=_("coins"))
