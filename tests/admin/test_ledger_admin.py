import csv
import io
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType, UserBalance
from billing.selectors import balance_get


@pytest.fixture
def entry(make_user):
    user = make_user(username="payer")
    billing_services.balance_credit(user=user, amount=100, type=TransactionType.TOPUP, idempotency_key="stars:c1",
                                    extra_data={"telegram_payment_charge_id": "c1"})
    return billing_services.balance_debit(user=user, amount=30, description="an image")


@pytest.mark.django_db
def test_nobody_adds_changes_or_deletes_ledger_entries_not_even_a_superuser(admin_client, admin_user, entry):
    model_admin = site._registry[Transaction]
    request = type("Request", (), {"user": admin_user})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert model_admin.has_view_permission(request, entry)

    change = reverse("admin:billing_transaction_change", args=[entry.pk])
    delete = reverse("admin:billing_transaction_delete", args=[entry.pk])
    assert admin_client.get(reverse("admin:billing_transaction_add")).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.post(change, {"amount": "-1", "description": "x"}).status_code == 403
    changelist = admin_client.get(reverse("admin:billing_transaction_changelist"))
    assert b"delete_selected" not in changelist.content
    entry.refresh_from_db()
    assert (entry.amount, entry.description) == (Decimal("-30"), "an image")
    assert Transaction.objects.count() == 2


@pytest.mark.django_db
def test_the_ledger_entry_page_is_view_only(admin_client, entry):
    response = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content


@pytest.mark.django_db
def test_balances_are_view_only(admin_client, entry):
    balance = UserBalance.objects.get(user=entry.user)
    assert admin_client.get(reverse("admin:billing_userbalance_changelist")).status_code == 200
    admin_client.post(reverse("admin:billing_userbalance_change", args=[balance.pk]), {"coins": "9999"})
    assert balance_get(user=entry.user) == Decimal("70")


@pytest.mark.django_db
def test_csv_export_streams_the_filtered_list(admin_client, entry, make_user):
    other = make_user()
    billing_services.balance_credit(user=other, amount=5, type=TransactionType.BONUS)
    response = admin_client.get(reverse("admin:billing_transaction_export_csv"), {"type__exact": "charge"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    record = dict(zip(header, body[0]))
    assert record["No."] == str(entry.pk) and record["type"] == "Charge" and record["username"] == "payer"
    assert Decimal(record["amount"].replace(",", ".")) == Decimal("-30") and record["description"] == "an image"


@pytest.mark.django_db
def test_the_changelist_links_the_export_with_its_filters(admin_client, entry):
    response = admin_client.get(reverse("admin:billing_transaction_changelist"), {"type__exact": "charge"})
    assert reverse("admin:billing_transaction_export_csv").encode() + b"?type__exact=charge" in response.content


@pytest.mark.django_db
def test_ledger_search_by_telegram_id(admin_client, entry, make_user):
    billing_services.balance_credit(user=make_user(), amount=1)
    response = admin_client.get(reverse("admin:billing_transaction_changelist"), {"q": str(entry.user.telegram_id)})
    assert {t.user_id for t in response.context["cl"].result_list} == {entry.user_id}


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised():
    from decimal import Decimal

    from common.admin import csv_safe

    assert csv_safe("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("-2+3") == "'-2+3"
    assert csv_safe(Decimal("-5.00")) == Decimal("-5.00")
    assert csv_safe("refund of #12") == "refund of #12"
