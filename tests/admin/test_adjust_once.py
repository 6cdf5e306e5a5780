"""A balance adjustment form submitted twice (a double click on "Apply") adjusts once."""

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get

CHANGELIST = reverse("admin:accounts_user_changelist")


def _the_rendered_form(client, users) -> dict:
    page = client.post(CHANGELIST, {"action": "adjust_balance", "_selected_action": [str(u.pk) for u in users]})
    nonce = re.search(rb'name="nonce" value="([0-9a-f-]{36})"', page.content)
    assert nonce, "the intermediate form carries a one-time nonce"
    return {"action": "adjust_balance", "_selected_action": [str(u.pk) for u in users], "apply": "yes",
            "nonce": nonce.group(1).decode()}


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_the_same_form_posted_twice_adjusts_once_and_says_so(admin_client, make_user):
    user = make_user()
    data = {**_the_rendered_form(admin_client, [user]), "amount": "7.50", "sign": "credit", "reason": "goodwill"}
    first = admin_client.post(CHANGELIST, data)
    second = admin_client.post(CHANGELIST, data)
    assert first.status_code == second.status_code == 302
    entries = Transaction.objects.filter(user=user, type=TransactionType.ADJUSTMENT)
    assert [e.amount for e in entries] == [Decimal("7.50")]
    assert balance_get(user=user) == Decimal("7.50")
    assert any("balance now 7.50" in m for m in _messages(first))
    again = _messages(second)
    assert any("already applied" in m and "not adjusted again" in m for m in again), again


@pytest.mark.django_db
def test_a_double_submit_for_several_users_adjusts_each_once(admin_client, make_user):
    users = [make_user(), make_user()]
    data = {**_the_rendered_form(admin_client, users), "amount": "3", "sign": "credit", "reason": "outage"}
    admin_client.post(CHANGELIST, data)
    admin_client.post(CHANGELIST, data)
    for user in users:
        assert Transaction.objects.filter(user=user, type=TransactionType.ADJUSTMENT).count() == 1


@pytest.mark.django_db
def test_each_rendered_form_is_a_new_adjustment(admin_client, make_user):
    user = make_user()
    for _ in range(2):  # the operator opens the form again on purpose: two adjustments
        data = {**_the_rendered_form(admin_client, [user]), "amount": "2", "sign": "credit", "reason": "twice"}
        admin_client.post(CHANGELIST, data)
    assert Transaction.objects.filter(user=user, type=TransactionType.ADJUSTMENT).count() == 2
    assert balance_get(user=user) == Decimal("4")


@pytest.mark.django_db
def test_a_refused_debit_can_be_submitted_again_with_the_same_form(admin_client, make_user):
    user = make_user()
    data = {**_the_rendered_form(admin_client, [user]), "amount": "5", "sign": "debit", "reason": "fix"}
    refused = admin_client.post(CHANGELIST, data)
    assert any("refused" in m for m in _messages(refused))
    billing_services.balance_credit(user=user, amount=10)
    admin_client.post(CHANGELIST, data)
    assert balance_get(user=user) == Decimal("5")
