"""The ledger's CSV export opens in Excel with Russian settings: a UTF-8 BOM, ";" between cells, amounts with a
decimal comma (a decimal point on request), headers and types in the operator's language, the user's name and
Telegram id."""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing import services as billing_services
from billing.models import TransactionType

pytestmark = pytest.mark.django_db
EXPORT = reverse("admin:billing_transaction_export_csv")


@pytest.fixture
def russian_client(admin_user):
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(admin_user)
    return client


def _export(client, **params) -> tuple[bytes, list[dict]]:
    raw = b"".join(client.get(EXPORT, params).streaming_content)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    return raw, [dict(zip(rows[0], row)) for row in rows[1:]]


def test_the_export_is_excel_ready_in_russian(russian_client, make_user, settings):
    settings.CSV_DECIMAL_SEPARATOR = ","
    user = make_user(telegram_id=777001, first_name="Иван", last_name="Петров", username="ivan_p")
    billing_services.balance_credit(user=user, amount=Decimal("12345.50"), type=TransactionType.BONUS,
                                    description="=cmd")
    raw, [row] = _export(russian_client)
    assert raw.startswith("\ufeff".encode()) and b";" in raw.splitlines()[0]
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert "id" not in header.split(";")[0] and "user__" not in header and "created_at" not in header
    assert row["Telegram id"] == "777001" and row["имя"] == "Иван" and row["фамилия"] == "Петров"
    assert row["сумма"] == "12345,50" and row["баланс после"] == "12345,50"
    assert row["тип"] == "Бонус"
    assert row["описание"] == "'=cmd"  # a formula, neutralised


def test_a_decimal_point_on_request_and_filters_kept(russian_client, make_user):
    user = make_user()
    billing_services.balance_credit(user=user, amount=Decimal("10.25"))
    billing_services.balance_debit(user=user, amount=Decimal("3.5"))
    _raw, rows = _export(russian_client, decimal="point", type__exact="charge")
    assert [row["сумма"] for row in rows] == ["-3.50"]


def test_the_changelist_offers_both_exports(russian_client):
    page = russian_client.get(reverse("admin:billing_transaction_changelist")).content.decode()
    assert f'href="{EXPORT}?"' in page and f'href="{EXPORT}?decimal=point"' in page
    filtered = russian_client.get(reverse("admin:billing_transaction_changelist"), {"type__exact": "charge"})
    assert f'href="{EXPORT}?type__exact=charge&amp;decimal=point"' in filtered.content.decode()
