"""Columns and read-only fields that show money and ledger entries in the admin, the same way on every page:
amounts formatted by ``billing.formats`` (thousands grouped, two decimals, the operator's decimal separator) and
descriptions in the operator's language (``billing.ledger_texts``).

Each is a function taking ``(model_admin, obj)``; assign it to an admin class attribute and name that attribute in
``list_display`` / ``fields`` / ``readonly_fields``.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing.formats import money, signed_money
from billing.ledger_texts import description_display


def money_column(field: str, *, description, signed: bool = False, sortable: bool = True):
    """A display of the money field (or property) ``field``; the admin's empty value (a dash) when None, where a
    read-only field would show "None"."""

    @admin.display(description=description, ordering=field if sortable else None)
    def display(model_admin, obj):
        value = getattr(obj, field)
        if value is None:
            return model_admin.get_empty_value_display()
        return signed_money(value) if signed else money(value)

    return display


entry_amount = money_column("amount", description=_("amount"), signed=True)
entry_balance_after = money_column("balance_after", description=_("balance after"))


@admin.display(description=_("description"))
def entry_description(model_admin, entry) -> str:
    return description_display(entry.description)


# Authors that our services write on entries; an operator's is "admin:<login>" or "cli:<login>".
AUTHORS = {"bot": _("bot"), "telegram": _("Telegram"), "system": _("system")}


@admin.display(description=_("made by"), ordering="created_by")
def entry_author(model_admin, entry) -> str:
    return AUTHORS.get(entry.created_by, entry.created_by)
