"""The Stars top-up packages (editable), flagged payments (read-only), and the "Refund Stars payment" button on a
ledger entry's page.

billing owns the ledger's admin and knows nothing of payments, so the button comes from here: the ledger's
ModelAdmin is replaced by a subclass that adds the refund URL and the button. Refunding moves money and a package
defines how many coins its Stars buy, so both need ``billing.adjust_balance`` on top of the model's permission.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from billing.admin import TransactionAdmin
from billing.admin_display import money_column
from billing.exceptions import BillingError
from billing.formats import count
from billing.models import Transaction, TransactionType
from billing.selectors import reversal_live
from common.admin import ReadOnlyAdminMixin, can_move_money
from payments.exceptions import PaymentError, RefundUnconfirmed
from payments.flag_reasons import reason_display
from payments.keys import PENDING_FLAG
from payments.models import FlaggedPayment, TopUpPackage
from payments.services.refunds import stars_payment_refund


class LedgerWithStarsRefundAdmin(TransactionAdmin):
    """The ledger, plus "Refund Stars payment" on the page of a Stars payment."""

    change_form_template = "admin/payments/ledger_entry_change_form.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/refund-stars/",
                self.admin_site.admin_view(require_POST(self.refund_stars_view)),
                name="%s_%s_refund_stars" % info,
            ),
            *super().get_urls(),
        ]

    def has_refund_stars_permission(self, request) -> bool:
        return request.user.has_perm("billing.adjust_balance")

    def refund_stars_view(self, request, object_id):
        """Refund a Telegram Stars payment: the Stars go back to the user, the coins leave their balance."""
        if not self.has_refund_stars_permission(request):
            raise PermissionDenied
        entry = get_object_or_404(Transaction, pk=unquote(object_id), type=TransactionType.TOPUP)
        back = HttpResponseRedirect(reverse("admin:billing_transaction_change", args=[entry.pk]))
        try:
            refund = stars_payment_refund(entry=entry, created_by=f"admin:{request.user.get_username()}")
        except RefundUnconfirmed as exc:
            self.message_user(request, _("Refund not confirmed yet: %(error)s") % {"error": exc}, messages.WARNING)
        except (BillingError, PaymentError) as exc:
            self.message_user(request, _("Refund refused: %(error)s") % {"error": exc}, messages.ERROR)
        else:
            self.message_user(request, _("Payment refunded: %(entry)s") % {"entry": refund}, messages.SUCCESS)
        return back

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        # Offered until a refund stands, and again while one waits for Telegram's confirmation.
        context["can_refund_stars"] = bool(
            obj is not None and obj.type == TransactionType.TOPUP and obj.amount > 0
            and (reversal_live(entry=obj) is None or (obj.extra_data or {}).get(PENDING_FLAG))
            and self.has_refund_stars_permission(request)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


admin.site.unregister(Transaction)
admin.site.register(Transaction, LedgerWithStarsRefundAdmin)


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
class FlaggedPaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
