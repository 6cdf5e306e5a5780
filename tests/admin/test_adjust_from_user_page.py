""""Adjust balance" from a user's page returns to that page; a large adjustment asks a second time, showing the
new balance; the form is drawn with the admin's widgets."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction
from billing.selectors import balance_get

pytestmark = pytest.mark.django_db


def _adjust_url(user):
    return reverse("admin:accounts_user_adjust_balance", args=[user.pk])


def test_the_users_adjust_button_opens_the_form_for_that_user(admin_client, make_user):
    user = make_user(first_name="Ирина")
    page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    assert f'href="{_adjust_url(user)}" id="adjust-balance-link"' in page
    form = admin_client.get(_adjust_url(user))
    html = form.content.decode()
    assert form.status_code == 200 and 'id="adjust-balance-form"' in html and "Ирина" in html
    assert 'class="vTextField"' in html and 'class="radiolist inline"' in html  # the admin's own widgets
    assert 'type="submit" class="default"' in html


def test_adjusting_from_the_users_page_returns_to_that_page(admin_client, make_user):
    user = make_user()
    response = admin_client.post(_adjust_url(user), {"amount": "25", "sign": "credit", "reason": "goodwill"})
    assert response.status_code == 302
    assert response.url == reverse("admin:accounts_user_change", args=[user.pk])
    assert balance_get(user=user) == Decimal("25")


def test_a_large_adjustment_asks_again_with_the_new_balance_and_changes_nothing_yet(admin_client, make_user,
                                                                                     settings):
    settings.ADMIN_ADJUST_CONFIRM_ABOVE = Decimal("10000")
    user = make_user()
    billing_services.balance_credit(user=user, amount=500)
    response = admin_client.post(_adjust_url(user), {"amount": "12000", "sign": "credit", "reason": "bonus"})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="adjust-balance-confirm"' in html
    assert "12,500.00" in html or "12\xa0500,00" in html  # the new balance
    assert 'name="confirmed" value="1"' in html
    assert balance_get(user=user) == Decimal("500") and Transaction.objects.filter(user=user).count() == 1
    confirmed = admin_client.post(_adjust_url(user), {"amount": "12000", "sign": "credit", "reason": "bonus",
                                                      "confirmed": "1"})
    assert confirmed.status_code == 302
    assert balance_get(user=user) == Decimal("12500")


def test_a_large_debit_from_the_list_asks_again_too_and_at_the_limit_it_does_not(admin_client, make_user, settings):
    settings.ADMIN_ADJUST_CONFIRM_ABOVE = Decimal("100")
    user = make_user()
    billing_services.balance_credit(user=user, amount=1000)
    changelist = reverse("admin:accounts_user_changelist")
    data = {"action": "adjust_balance", "apply": "yes", "_selected_action": [str(user.pk)], "sign": "debit",
            "reason": "typo"}
    asked = admin_client.post(changelist, {**data, "amount": "100.01"})
    assert asked.status_code == 200 and b'id="adjust-balance-confirm"' in asked.content
    assert b"899.99" in asked.content or "899,99" in asked.content.decode()
    assert balance_get(user=user) == Decimal("1000")
    done = admin_client.post(changelist, {**data, "amount": "100"})
    assert done.status_code == 302 and done.url.startswith(changelist)
    assert balance_get(user=user) == Decimal("900")


def test_staff_without_the_money_permission_cannot_open_the_users_adjust_form(staff_client, make_user):
    client = staff_client("accounts.view_user", "accounts.change_user")
    user = make_user()
    assert client.get(_adjust_url(user)).status_code == 403
    assert client.post(_adjust_url(user), {"amount": "5", "sign": "credit", "reason": "x"}).status_code == 403
    assert balance_get(user=user) == 0
