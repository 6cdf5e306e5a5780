from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get

CHANGELIST = reverse("admin:accounts_user_changelist")


def _action(client, users, action="adjust_balance", **data):
    payload = {"action": action, "_selected_action": [str(u.pk) for u in users], **data}
    return client.post(CHANGELIST, payload)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_adjust_balance_shows_an_intermediate_form_first_and_changes_nothing(admin_client, make_user):
    user = make_user()
    response = _action(admin_client, [user])
    assert response.status_code == 200
    assert b'name="reason"' in response.content and b'name="apply"' in response.content
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_adjust_balance_credits_and_the_ledger_entry_names_the_admin(admin_client, make_user):
    user = make_user()
    response = _action(admin_client, [user], apply="yes", amount="25.50", sign="credit", reason="goodwill")
    assert response.status_code == 302
    entry = Transaction.objects.get(user=user)
    assert (entry.type, entry.amount, entry.description) == (TransactionType.ADJUSTMENT, Decimal("25.50"), "goodwill")
    assert entry.created_by == "admin:admin"
    assert balance_get(user=user) == Decimal("25.50")


@pytest.mark.django_db
def test_adjust_balance_needs_a_reason(admin_client, make_user):
    user = make_user()
    response = _action(admin_client, [user], apply="yes", amount="5", sign="credit", reason="")
    assert response.status_code == 200  # the form again, with its error
    assert b"errorlist" in response.content
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_debit_beyond_the_balance_is_refused_as_a_message_not_a_server_error(admin_client, make_user):
    user = make_user()
    billing_services.balance_credit(user=user, amount=10)
    response = _action(admin_client, [user], apply="yes", amount="11", sign="debit", reason="typo")
    assert response.status_code == 302
    assert any("refused" in m for m in _messages(response))
    assert balance_get(user=user) == Decimal("10")
    assert Transaction.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_staff_without_the_adjust_permission_neither_sees_nor_runs_the_action(staff_client, make_user):
    client = staff_client("accounts.view_user", "accounts.change_user")
    user = make_user()
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert b'value="block_users"' in page.content
    assert b'value="adjust_balance"' not in page.content
    _action(client, [user], apply="yes", amount="100", sign="credit", reason="sneaky")
    assert balance_get(user=user) == 0


@pytest.mark.django_db
def test_staff_with_the_adjust_permission_sees_the_action(staff_client, make_user):
    client = staff_client("accounts.view_user", "accounts.change_user", "billing.adjust_balance")
    make_user()
    assert b'value="adjust_balance"' in client.get(CHANGELIST).content


@pytest.mark.django_db
def test_block_and_unblock_actions_go_through_the_service(admin_client, make_user):
    a, b = make_user(), make_user()
    _action(admin_client, [a, b], action="block_users")
    a.refresh_from_db(), b.refresh_from_db()
    assert a.is_blocked and b.is_blocked
    _action(admin_client, [a], action="unblock_users")
    a.refresh_from_db(), b.refresh_from_db()
    assert not a.is_blocked and b.is_blocked


@pytest.mark.django_db
def test_search_by_telegram_id_is_an_exact_match_on_the_indexed_column(admin_client, make_user):
    target = make_user(telegram_id=123456789)
    make_user(telegram_id=1234567890, username="u123456789")  # would match a LIKE search
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "123456789"})
    assert [u.pk for u in response.context["cl"].result_list] == [target.pk]
    selects = [q["sql"] for q in queries.captured_queries if 'FROM "users"' in q["sql"]]
    assert selects and all("LIKE" not in sql.upper() for sql in selects)


@pytest.mark.django_db
def test_search_by_username_and_name_still_works(admin_client, make_user):
    target = make_user(username="alice_w", first_name="Alice")
    make_user(username="bob")
    assert list(admin_client.get(CHANGELIST, {"q": "@alice"}).context["cl"].result_list) == [target]
    assert list(admin_client.get(CHANGELIST, {"q": "Alice"}).context["cl"].result_list) == [target]


@pytest.mark.django_db
def test_balance_column_sorts_and_costs_no_query_per_row(admin_client, make_user):
    users = [make_user() for _ in range(5)]
    for coins, user in zip([3, 1, 5, 2, 4], users):
        billing_services.balance_credit(user=user, amount=coins)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST, {"o": "4"})  # the balance column, ascending
    for user in [make_user() for _ in range(5)]:
        billing_services.balance_credit(user=user, amount=9)
    with CaptureQueriesContext(connection) as more:
        response = admin_client.get(CHANGELIST, {"o": "4"})
    assert len(more.captured_queries) == len(few.captured_queries)
    coins = [u.balance.coins for u in response.context["cl"].result_list]
    assert coins == sorted(coins)


@pytest.mark.django_db
def test_has_balance_filter(admin_client, make_user):
    rich, poor = make_user(), make_user()
    billing_services.balance_credit(user=rich, amount=1)
    assert list(admin_client.get(CHANGELIST, {"has_balance": "yes"}).context["cl"].result_list) == [rich]
    assert list(admin_client.get(CHANGELIST, {"has_balance": "no"}).context["cl"].result_list) == [poor]


@pytest.mark.django_db
def test_the_user_page_shows_only_the_latest_20_ledger_entries_read_only(admin_client, make_user):
    user = make_user()
    for n in range(25):
        billing_services.balance_credit(user=user, amount=n + 1, description=f"entry-{n}")
    response = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0]
    assert len(formset.formset.forms) == 20
    assert not formset.has_add_permission and not formset.has_change_permission
    assert b"entry-24" in response.content and b"entry-4<" not in response.content


@pytest.mark.django_db
def test_the_user_page_is_view_only_and_offers_the_adjust_form(admin_client, make_user):
    user = make_user(first_name="Old")
    change = reverse("admin:accounts_user_change", args=[user.pk])
    page = admin_client.get(change)
    assert b'name="_save"' not in page.content and b"adjust-balance-link" in page.content
    assert admin_client.post(change, {"first_name": "New"}).status_code == 403
    user.refresh_from_db()
    assert user.first_name == "Old"
    form = admin_client.post(CHANGELIST, {"action": "adjust_balance", "_selected_action": [str(user.pk)]})
    assert b'id="adjust-balance-form"' in form.content


@pytest.mark.django_db
def test_staff_without_the_adjust_permission_gets_no_adjust_button(staff_client, make_user):
    client = staff_client("accounts.view_user", "accounts.change_user")
    user = make_user()
    page = client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert page.status_code == 200 and b"adjust-balance-link" not in page.content


@pytest.mark.django_db
def test_the_user_page_costs_the_same_queries_with_3_or_25_ledger_entries(admin_client, make_user):
    def queries_for(entries: int) -> int:
        user = make_user()
        for n in range(entries):
            billing_services.balance_credit(user=user, amount=n + 1)
        with CaptureQueriesContext(connection) as queries:
            admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
        return len(queries.captured_queries)

    assert queries_for(3) == queries_for(25)
