"""Promo codes: create one or generate many through ``promocodes.services``, watch their use, deactivate them.

A code's terms define coins (a balance or bonus amount, a discount), so adding codes and changing them need
``billing.adjust_balance`` besides the model's permission; deactivating (which only takes coins off the table)
needs the model's change permission alone, viewing its view permission.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.admin_display import money_column
from billing.formats import count, money, percent
from common.admin import AdminFormMixin, ReadOnlyInline, can_move_money, newest_rows_formset
from promocodes import services
from promocodes.exceptions import PromoCodeError
from promocodes.models import Promokode, PromokodeStatus, PromokodeType, PromokodeUsage

RECENT_USAGES = 50


def _admin_name(request) -> str:
    return f"admin:{request.user.get_username()}"


def _show_refusal(form: forms.Form, error: PromoCodeError) -> None:
    """The service's refusal on the form: beside the field at fault when it names one of the form's fields."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, str(error))


class PromokodeAddForm(forms.ModelForm):
    """The add form: the service alone decides whether the terms are valid and creates the code.

    It runs in ``clean()`` so that a refusal shows on the form; the admin's add view wraps the whole request in
    one database transaction, so a later failure rolls the new code back.
    """

    class Meta:
        model = Promokode
        fields = ("code", *services.TERM_FIELDS)

    def __init__(self, *args, created_by: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.created_by = created_by
        self.created = None

    def _post_clean(self):
        pass  # the model instance is built by the service, not by the form

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        terms = {name: data.get(name) for name in services.TERM_FIELDS}
        try:
            self.created = services.promo_code_create(code=data["code"], created_by=self.created_by, **terms)
        except PromoCodeError as exc:
            _show_refusal(self, exc)
        return data

    def save(self, commit=True):
        self.instance = self.created
        self.save_m2m = lambda: None
        return self.created


class BulkGenerateForm(AdminFormMixin, forms.Form):
    count = forms.IntegerField(label=_("How many codes"), min_value=1, max_value=10_000, initial=10)
    prefix = forms.CharField(label=_("Prefix"), max_length=20, required=False)
    length = forms.IntegerField(label=_("Random characters"), min_value=6, max_value=30, initial=8)
    type = forms.ChoiceField(label=_("Type"), choices=PromokodeType.choices)
    balance_amount = forms.DecimalField(label=_("Coins"), max_digits=14, decimal_places=2, required=False,
                                        localize=True)
    bonus_amount = forms.DecimalField(label=_("Bonus coins"), max_digits=14, decimal_places=2, required=False,
                                      localize=True)
    discount_percent = forms.DecimalField(label=_("Discount, %"), max_digits=5, decimal_places=2, required=False,
                                          localize=True)
    max_uses = forms.IntegerField(label=_("Total uses of each code"), min_value=1, required=False, initial=1)
    max_uses_per_user = forms.IntegerField(label=_("Uses per user"), min_value=1, required=False, initial=1)
    valid_from = forms.DateTimeField(label=_("Valid from"), required=False, help_text=_("YYYY-MM-DD HH:MM"))
    valid_until = forms.DateTimeField(label=_("Valid until"), required=False, help_text=_("YYYY-MM-DD HH:MM"))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def terms(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in services.TERM_FIELDS if name in data} | {"is_active": True}


class UsageInline(ReadOnlyInline):
    model = PromokodeUsage
    formset = newest_rows_formset(RECENT_USAGES)
    fields = readonly_fields = ("used_at", "user", "amount_added_display", "bonus_added_display", "package_used",
                                "consumed_at")
    ordering = ("-used_at",)
    verbose_name_plural = _("activations (the newest 50)")
    amount_added_display = money_column("amount_added", description=_("coins added"))
    bonus_added_display = money_column("bonus_added", description=_("bonus added"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Promokode)
class PromokodeAdmin(admin.ModelAdmin):
    list_display = (
        "code", "type", "value", "current_uses", "remaining", "max_uses_per_user", "status_display",
        "valid_until", "is_active", "created_at",
    )
    list_filter = ("is_active", "type", "created_at")
    search_fields = ("=code", "description", "created_by")
    ordering = ("-created_at",)
    actions = ("deactivate",)
    inlines = (UsageInline,)
    # Amounts typed the operator's way: "12,5" as well as "12.5".
    formfield_overrides = {models.DecimalField: {"localize": True}}
    # Terms are fixed once a code exists (users may hold it already); only the note and the switch stay open.
    change_readonly_fields = (
        "code", "type", "balance_amount_display", "bonus_amount_display", "discount_percent_display", "max_uses",
        "current_uses", "max_uses_per_user", "valid_from", "valid_until", "created_by", "created_at",
    )
    balance_amount_display = money_column("balance_amount", description=_("coins"))
    bonus_amount_display = money_column("bonus_amount", description=_("bonus coins"))

    @admin.display(description=_("value"))
    def value(self, promo: Promokode) -> str:
        if promo.type == PromokodeType.DISCOUNT:
            value, shown = promo.discount_percent, percent
        else:
            value = promo.balance_amount if promo.type == PromokodeType.BALANCE else promo.bonus_amount
            shown = money
        return shown(value) if value is not None else self.get_empty_value_display()

    @admin.display(description=_("discount, %"), ordering="discount_percent")
    def discount_percent_display(self, promo: Promokode) -> str:
        if promo.discount_percent is None:
            return self.get_empty_value_display()
        return percent(promo.discount_percent)

    @admin.display(description=_("remaining uses"))
    def remaining(self, promo: Promokode) -> str:
        return "∞" if promo.remaining_uses is None else count(promo.remaining_uses)

    @admin.display(description=_("status"))
    def status_display(self, promo: Promokode) -> str:
        return PromokodeStatus(promo.status).label

    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_move_money(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_move_money(request)

    def has_deactivate_permission(self, request) -> bool:
        return super().has_change_permission(request)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request, obj=None):
        return self.change_readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return PromokodeAddForm.Meta.fields
        return (*self.change_readonly_fields, "description", "is_active")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs["form"] = PromokodeAddForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        created_by = _admin_name(request)

        class AddForm(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, created_by=created_by, **kw)

        return AddForm

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # On add, the form's service call has created and saved the code already.

    @admin.action(description=_("Deactivate selected codes"), permissions=["deactivate"])
    def deactivate(self, request, queryset):
        count = services.promo_code_deactivate(promo_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request, ngettext("%(count)d code deactivated.", "%(count)d codes deactivated.", count) % {"count": count},
            messages.SUCCESS,
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.bulk_generate_view)
        return [path("bulk-generate/", view, name="%s_%s_bulk_generate" % info), *super().get_urls()]

    def bulk_generate_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BulkGenerateForm(request.POST or None)
        codes = None
        if form.is_bound and form.is_valid():
            try:
                created = services.promo_code_bulk_generate(
                    count=form.cleaned_data["count"], prefix=form.cleaned_data["prefix"],
                    length=form.cleaned_data["length"], created_by=_admin_name(request), **form.terms(),
                )
            except PromoCodeError as exc:
                form.add_error(None, str(exc))
            else:
                codes = [promo.code for promo in created]
                message = ngettext("%(count)d code generated.", "%(count)d codes generated.", len(codes))
                self.message_user(request, message % {"count": len(codes)}, messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Generate promo codes"),
            "opts": self.opts,
            "form": form,
            "codes": codes,
        }
        return TemplateResponse(request, "admin/promocodes/promokode/bulk_generate.html", context)
