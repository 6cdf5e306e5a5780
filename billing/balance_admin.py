"""The balance parts of the users' admin, kept with the money: a balance column and filter, the latest ledger
entries on a user's page, and "Adjust balance" (for the selected users from the list, or for one user from their
page, which it returns to). ``backoffice.user_admin`` mixes ``BalanceUserAdminMixin`` into ``accounts.admin.UserAdmin``.

An adjustment above ``ADMIN_ADJUST_CONFIRM_ABOVE`` coins asks a second time, showing each new balance.
"""

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from billing import services
from billing.admin_display import entry_amount, entry_author, entry_balance_after, entry_description
from billing.exceptions import BillingError
from billing.formats import money, signed_money
from billing.models import Transaction
from billing.selectors import balance_get
from common.admin import AdminFormMixin, NewestRowsInline

RECENT_ENTRIES = 20
MONEY_PERMISSION = "billing.adjust_balance"


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


class RecentLedgerInline(NewestRowsInline):
    model = Transaction
    fk_name = "user"
    limit = RECENT_ENTRIES
    fields = readonly_fields = ("created_at", "type", "amount_display", "balance_after_display", "status",
                                "description_display", "author_display")
    ordering = ("-created_at", "-id")
    show_change_link = True
    verbose_name_plural = _("latest ledger entries (the newest 20)")
    amount_display = entry_amount
    balance_after_display = entry_balance_after
    description_display = entry_description
    author_display = entry_author


class AdjustBalanceForm(AdminFormMixin, forms.Form):
    SIGNS = [("credit", _("Credit (add coins)")), ("debit", _("Debit (take coins)"))]

    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
                                localize=True)
    sign = forms.ChoiceField(label=_("Direction"), choices=SIGNS, widget=forms.RadioSelect, initial="credit")
    reason = forms.CharField(label=_("Reason"), max_length=500, help_text=_("Written to the ledger entry."))
    # One per rendered form: the same form submitted twice (a double click) adjusts once. Optional so that a
    # hand-made POST without it still works, unprotected.
    nonce = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # Set by the second page of a large adjustment.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def signed_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["sign"] == "credit" else -amount

    def needs_confirmation(self) -> bool:
        limit = Decimal(settings.ADMIN_ADJUST_CONFIRM_ABOVE)
        return self.cleaned_data["amount"] > limit and not self.cleaned_data["confirmed"]


class BalanceUserAdminMixin:
    """For ``accounts.admin.UserAdmin``: the balance column, filter and ledger inline, and "Adjust balance"."""

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        columns.insert(3, "balance_display")  # after the name
        return columns

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), HasBalanceFilter)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("balance")

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "balance_display")

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if IS_POPUP_VAR not in request.GET and self.has_adjust_balance_permission(request):
            actions["adjust_balance"] = self.get_action("adjust_balance")
        return actions

    def has_adjust_balance_permission(self, request) -> bool:
        return request.user.has_perm(MONEY_PERMISSION)

    @admin.display(description=_("balance"), ordering="balance__coins")
    def balance_display(self, user) -> str:
        # ``balance`` comes with the row (select_related), so the column costs no query per row.
        balance = getattr(user, "balance", None)
        return money(balance.coins if balance is not None else Decimal("0"))

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.adjust_balance_view)
        return [path("<path:object_id>/adjust-balance/", view, name="%s_%s_adjust_balance" % info),
                *super().get_urls()]

    def object_tools(self, request, object_id: str) -> list[tuple[str, str, str]]:
        tools = super().object_tools(request, object_id)
        if self.has_adjust_balance_permission(request):
            url = reverse("admin:accounts_user_adjust_balance", args=[object_id])
            tools.append((url, _("Adjust balance"), "adjust-balance-link"))
        return tools

    def adjust_balance_view(self, request, object_id):
        """"Adjust balance" for one user, from their page; back to that page when done."""
        if not self.has_adjust_balance_permission(request):
            raise PermissionDenied
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        queryset = self.get_queryset(request).filter(pk=user.pk)
        done_url = reverse("admin:accounts_user_change", args=[user.pk])
        return self._adjust(request, queryset, bound="amount" in request.POST, done_url=done_url)

    @admin.action(description=_("Adjust balance…"), permissions=["adjust_balance"])
    def adjust_balance(self, request, queryset):
        return self._adjust(request, queryset, bound="apply" in request.POST, done_url=None)

    def _adjust(self, request, queryset, *, bound: bool, done_url: str | None):
        form = AdjustBalanceForm(request.POST if bound else None, initial={"nonce": uuid.uuid4()})
        confirming = False
        if form.is_bound and form.is_valid():
            if not form.needs_confirmation():
                nonce = form.cleaned_data["nonce"] or uuid.uuid4()
                for user in queryset:
                    self._adjust_one(request, user, form, nonce)
                return HttpResponseRedirect(done_url) if done_url else None  # None: back to the changelist
            confirming = True
        users = list(queryset[:20])
        if confirming:
            for user in users:
                user.new_balance = balance_get(user=user) + form.signed_amount()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust balance"),
            "form": form,
            "confirming": confirming,
            "users": users,
            "user_count": queryset.count(),
            "opts": self.opts,
            "single_user": users[0] if done_url else None,
            "original": users[0] if done_url else None,  # the breadcrumbs lead back to the user's page
            "action_name": "adjust_balance",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/accounts/user/adjust_balance.html", context)

    def _adjust_one(self, request, user, form: AdjustBalanceForm, nonce: uuid.UUID) -> None:
        started = timezone.now()
        try:
            entry = services.balance_adjust(
                user=user, amount=form.signed_amount(), reason=form.cleaned_data["reason"],
                created_by=f"admin:{request.user.get_username()}", idempotency_key=f"admin-adjust:{nonce}:{user.pk}",
            )
        except BillingError as exc:
            self.message_user(request, _("%(user)s: refused: %(error)s") % {"user": user, "error": exc}, messages.ERROR)
            return
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
