"""``{% load money %}``: the number formats of ``billing.formats`` as template filters."""

from django import template

from billing import formats

register = template.Library()


@register.filter
def money(value):
    return "" if value in (None, "") else formats.money(value)


@register.filter
def signed_money(value):
    return "" if value in (None, "") else formats.signed_money(value)


@register.filter
def figure(value):
    return "" if value in (None, "") else formats.figure(value)
