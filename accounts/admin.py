"""The operators' view of the bot's users: search, filters, balance, recent ledger, block and adjust actions; and
the operators' own accounts and groups (Django's), whose editing is guarded like money."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.models import User
from billing import services as billing_services
from billing.admin_display import entry_amount, entry_author, entry_balance_after, entry_description
from billing.exceptions import BillingError
from billing.formats import money, signed_money
from billing.models import Transaction
from billing.selectors import balance_get
from config.admin_tools import BigTableAdminMixin, ReadOnlyInline, newest_rows_formset

RECENT_ENTRIES = 20


class HasBalanceFilter(admin.SimpleListFilter):
    title = _("balance")
    parameter_name = "has_balance"

    def lookups(self, request, model_admin):
        return [("yes", _("Has coins")), ("no", _("No coins"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(balance__coins__gt=0)
        if self.value() == "no":
            return queryset.filter(Q(balance__isnull=True) | Q(balance__coins=0))
        return queryset


class RecentLedgerInline(ReadOnlyInline):
    model = Transaction
    fk_name = "user"
    formset = newest_rows_formset(RECENT_ENTRIES)
    fields = readonly_fields = ("created_at", "type", "amount_display", "balance_after_display", "status",
                                "description_display", "author_display")
    ordering = ("-created_at", "-id")
    show_change_link = True
    verbose_name_plural = _("latest ledger entries (the newest 20)")
    amount_display = entry_amount
    balance_after_display = entry_balance_after
    description_display = entry_description
    author_display = entry_author


class AdjustBalanceForm(forms.Form):
    SIGNS = [("credit", _("Credit (add coins)")), ("debit", _("Debit (take coins)"))]

    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
                                localize=True)
    sign = forms.ChoiceField(label=_("Direction"), choices=SIGNS, widget=forms.RadioSelect, initial="credit")
    reason = forms.CharField(
        label=_("Reason"), max_length=500, help_text=_("Written to the ledger entry."),
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    # One per rendered form: the same form submitted twice (a double click) adjusts once. Optional so that a
    # hand-made POST without it still works, unprotected.
    nonce = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def signed_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["sign"] == "credit" else -amount


@admin.register(User)
class UserAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = (
        "telegram_id", "username", "full_name", "balance_display", "is_premium", "is_blocked", "created_at",
        "last_activity_at",
    )
    list_display_links = ("telegram_id", "username")
    list_filter = ("is_premium", "is_blocked", HasBalanceFilter, "created_at")
    search_fields = ("username", "first_name", "last_name")
    search_help_text = _("A Telegram id (exact), or part of a username or name.")
    list_select_related = ("balance",)
    ordering = ("-created_at",)
    inlines = (RecentLedgerInline,)
    actions = ("block_users", "unblock_users", "adjust_balance")
    readonly_fields = (
        "telegram_id", "first_name", "last_name", "username", "language_code", "timezone", "is_premium", "is_bot",
        "is_blocked", "created_at", "updated_at", "last_activity_at", "bot_blocked_at", "balance_display",
    )
    fields = readonly_fields

    @admin.display(description=_("full name"))
    def full_name(self, user: User) -> str:
        return user.full_name

    @admin.display(description=_("balance"), ordering="balance__coins")
    def balance_display(self, user: User) -> str:
        # ``balance`` comes with the row (select_related), so the column costs no query per row.
        balance = getattr(user, "balance", None)
        return money(balance.coins if balance is not None else Decimal("0"))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("@")
        if term.isdigit():
            # A Telegram id: an exact match on the unique index instead of a LIKE scan over every column.
            return queryset.filter(telegram_id=int(term)), False
        return super().get_search_results(request, queryset, term)

    def has_add_permission(self, request):
        return False  # users come from Telegram

    def has_delete_permission(self, request, obj=None):
        return False  # their ledger must stay

    def has_change_permission(self, request, obj=None):
        # A user's page is view-only (their data comes from Telegram); "change" only grants the actions.
        return obj is None and super().has_change_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust_balance": self.has_adjust_balance_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_adjust_balance_permission(self, request) -> bool:
        return request.user.has_perm("billing.adjust_balance")

    @admin.action(description=_("Block selected users"), permissions=["change"])
    def block_users(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock selected users"), permissions=["change"])
    def unblock_users(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(self, request, queryset, *, blocked: bool) -> None:
        users = list(queryset)
        for user in users:
            services.user_set_blocked(user=user, blocked=blocked)
        message = ngettext("%(count)d user blocked.", "%(count)d users blocked.", len(users)) if blocked else (
            ngettext("%(count)d user unblocked.", "%(count)d users unblocked.", len(users))
        )
        self.message_user(request, message % {"count": len(users)}, messages.SUCCESS)

    @admin.action(description=_("Adjust balance…"), permissions=["adjust_balance"])
    def adjust_balance(self, request, queryset):
        form = AdjustBalanceForm(request.POST if "apply" in request.POST else None, initial={"nonce": uuid.uuid4()})
        if form.is_bound and form.is_valid():
            nonce = form.cleaned_data["nonce"] or uuid.uuid4()
            for user in queryset:
                self._adjust_one(request, user, form, nonce)
            return None  # back to the changelist, with the messages
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust balance"),
            "form": form,
            "users": queryset[:20],
            "user_count": queryset.count(),
            "opts": self.model._meta,
            "action_name": "adjust_balance",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/accounts/user/adjust_balance.html", context)

    def _adjust_one(self, request, user: User, form: AdjustBalanceForm, nonce: uuid.UUID) -> None:
        started = timezone.now()
        try:
            entry = billing_services.balance_adjust(
                user=user, amount=form.signed_amount(), reason=form.cleaned_data["reason"],
                created_by=f"admin:{request.user.get_username()}", idempotency_key=f"admin-adjust:{nonce}:{user.pk}",
            )
        except BillingError as exc:
            self.message_user(request, _("%(user)s: refused: %(error)s") % {"user": user, "error": exc}, messages.ERROR)
        else:
            if entry.created_at < started:  # the entry of an earlier submit of this same form
                self.message_user(
                    request,
                    _("%(user)s: this form was already applied (%(amount)s coins at %(when)s); not adjusted again. "
                      "Balance now %(balance)s.")
                    % {"user": user, "amount": signed_money(entry.amount),
                       "when": formats.date_format(timezone.localtime(entry.created_at), "SHORT_DATETIME_FORMAT"),
                       "balance": money(balance_get(user=user))},
                    messages.WARNING,
                )
                return
            self.message_user(
                request,
                _("%(user)s: %(amount)s coins, balance now %(balance)s.")
                % {"user": user, "amount": signed_money(entry.amount), "balance": money(entry.balance_after)},
                messages.SUCCESS,
            )
