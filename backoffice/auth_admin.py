"""The operators' own accounts and groups (Django's auth pages): permission names in the operator's language, and
writes guarded like money.

Django stores a permission's name in English when ``migrate`` creates it ("Can view bot user", "Can adjust user
balances") and shows that stored text. Here the built-in add/change/delete/view permissions are named from the
model's translated plural name and the action, and our own permissions through the catalogue.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.utils.translation import gettext, gettext_lazy as _

from common.admin import can_move_money

ACTIONS = {"add": _("adding"), "change": _("changing"), "delete": _("deleting"), "view": _("viewing")}


def permission_label(permission: Permission) -> str:
    """``app | models | action``, e.g. "Пользователи Telegram | пользователи бота | просмотр"."""
    content_type = permission.content_type
    model = content_type.model_class()
    action, _sep, model_name = permission.codename.partition("_")
    if model is None:
        return f"{content_type} | {gettext(permission.name)}"
    if action in ACTIONS and model_name == model._meta.model_name:
        name = ACTIONS[action]
    else:
        name = gettext(permission.name)
    return f"{model._meta.app_config.verbose_name} | {model._meta.verbose_name_plural} | {name}"


class PermissionLabelsMixin:
    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.remote_field.model is Permission:
            field.label_from_instance = permission_label
        return field


class MoneyGuardedMixin:
    """Whoever edits operator accounts or groups can grant any permission, or take over an account by setting its
    password: writing them needs ``billing.adjust_balance`` besides the model's permission. Viewing does not."""

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and can_move_money(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_move_money(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and can_move_money(request)


class OperatorGroupAdmin(MoneyGuardedMixin, PermissionLabelsMixin, GroupAdmin):
    pass


class OperatorAdmin(MoneyGuardedMixin, PermissionLabelsMixin, UserAdmin):
    pass


def register(site: admin.AdminSite) -> None:
    """Replace the auth admin's group and user pages by the same pages with translated permission names."""
    for model, model_admin in ((Group, OperatorGroupAdmin), (User, OperatorAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
