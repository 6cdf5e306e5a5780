"""The ledger (read-only, exportable), balances and flagged payments (read-only) and the Stars top-up packages
(editable).

Money changes only through ``billing.services``: the users' "adjust balance" action and the Stars refund button.
A package defines how many coins its Stars buy, so adding or changing one needs ``billing.adjust_balance`` too.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from billing import stars
from billing.admin_display import entry_amount, entry_author, entry_balance_after, entry_description, money_column
from billing.exceptions import BillingError
from billing.flagged import reason_display
from billing.formats import count
from billing.models import FlaggedPayment, TopUpPackage, Transaction, TransactionType, UserBalance
from billing.selectors import reversal_live
from config.admin_tools import BigTableAdminMixin, can_move_money, csv_streaming_response

CSV_FIELDS = (
    "id", "created_at", "user__telegram_id", "user__username", "type", "status", "amount", "balance_after",
    "description", "created_by", "idempotency_key", "refund_of_id",
)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Nobody, superusers included, adds, edits or deletes these rows here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(BigTableAdminMixin, ViewOnlyAdmin):
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

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.isdigit():
            # A Telegram id: the user's entries through the unique index and (user, created_at) index.
            return queryset.filter(user__telegram_id=int(term)), False
        return super().get_search_results(request, queryset, term)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export-csv/", self.admin_site.admin_view(self.export_csv_view), name="%s_%s_export_csv" % info),
            path(
                "<path:object_id>/refund-stars/",
                self.admin_site.admin_view(require_POST(self.refund_stars_view)),
                name="%s_%s_refund_stars" % info,
            ),
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

    def has_refund_stars_permission(self, request) -> bool:
        return request.user.has_perm("billing.adjust_balance")

    def refund_stars_view(self, request, object_id):
        """Refund a Telegram Stars payment: the Stars go back to the user, the coins leave their balance."""
        if not self.has_refund_stars_permission(request):
            raise PermissionDenied
        entry = get_object_or_404(Transaction, pk=unquote(object_id), type=TransactionType.TOPUP)
        back = HttpResponseRedirect(reverse("admin:billing_transaction_change", args=[entry.pk]))
        try:
            refund = stars.stars_payment_refund(entry=entry, created_by=f"admin:{request.user.get_username()}")
        except stars.RefundUnconfirmed as exc:
            self.message_user(request, _("Refund not confirmed yet: %(error)s") % {"error": exc}, messages.WARNING)
        except BillingError as exc:
            self.message_user(request, _("Refund refused: %(error)s") % {"error": exc}, messages.ERROR)
        else:
            self.message_user(request, _("Payment refunded: %(entry)s") % {"entry": refund}, messages.SUCCESS)
        return back

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        # Offered until a refund stands, and again while one waits for Telegram's confirmation.
        context["can_refund_stars"] = bool(
            obj is not None and obj.type == TransactionType.TOPUP and obj.amount > 0
            and (reversal_live(entry=obj) is None or (obj.extra_data or {}).get(stars.PENDING_FLAG))
            and self.has_refund_stars_permission(request)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(UserBalance)
class UserBalanceAdmin(BigTableAdminMixin, ViewOnlyAdmin):
    list_display = ("user", "coins_display", "updated_at")
    list_select_related = ("user",)
    ordering = ("-coins",)
    search_fields = ("user__username",)
    fields = readonly_fields = ("user", "coins_display", "created_at", "updated_at")
    coins_display = money_column("coins", description=_("coins"))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("@")
        if term.isdigit():
            return queryset.filter(user__telegram_id=int(term)), False
        return super().get_search_results(request, queryset, term)


@admin.register(TopUpPackage)
class TopUpPackageAdmin(admin.ModelAdmin):
    list_display = ("title", "stars_display", "credits_display", "bonus_credits_display", "total_credits_display",
                    "is_active", "sort_order")
    list_editable = ("is_active", "sort_order")
    list_filter = ("is_active",)
    ordering = ("sort_order", "stars")
    # Amounts typed the operator's way: "12,5" as well as "12.5".
    formfield_overrides = {models.DecimalField: {"localize": True}}
    credits_display = money_column("credits", description=_("coins"))
    bonus_credits_display = money_column("bonus_credits", description=_("bonus coins"))
    total_credits_display = money_column("total_credits", description=_("coins in total"), sortable=False)

    @admin.display(description=_("price in Telegram Stars"), ordering="stars")
    def stars_display(self, package: TopUpPackage) -> str:
        return count(package.stars)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_move_money(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_move_money(request)

    def has_delete_permission(self, request, obj=None):
        # Unpaid invoices name their package; switch a package off (is_active) instead of deleting it.
        return False


@admin.register(FlaggedPayment)
class FlaggedPaymentAdmin(ViewOnlyAdmin):
    """Payments credited with nothing because they do not match their invoice: the operator settles each (an
    adjustment on the payer's balance, or a refund of the Stars)."""

    list_display = ("created_at", "telegram_payment_charge_id", "payer_telegram_id", "currency", "total_amount",
                    "reason_shown")
    search_fields = ("=telegram_payment_charge_id", "=payer_telegram_id")
    fields = readonly_fields = ("telegram_payment_charge_id", "payer_telegram_id", "payload", "currency",
                                "total_amount", "reason_shown", "created_at")
    ordering = ("-created_at",)

    @admin.display(description=_("reason"))
    def reason_shown(self, flagged: FlaggedPayment) -> str:
        return reason_display(flagged.reason)
