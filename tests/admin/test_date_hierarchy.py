"""The ledger's date hierarchy lists periods from MIN/MAX (index lookups), never by scanning every entry."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services
from billing.models import Transaction


@pytest.fixture
def ledger(make_user):
    user = make_user()
    for when in (datetime(2024, 3, 5, 10), datetime(2025, 1, 9, 12), datetime(2025, 4, 2, 8)):
        entry = services.balance_credit(user=user, amount=1)
        Transaction.objects.filter(pk=entry.pk).update(created_at=when.replace(tzinfo=dt_timezone.utc))
    return user


@pytest.mark.django_db
def test_year_month_and_day_levels_list_the_periods_between_first_and_last_entry(admin_client, ledger):
    url = reverse("admin:billing_transaction_changelist")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(url).content.decode()
    assert "created_at__year=2024" in page and "created_at__year=2025" in page
    assert not any("DISTINCT" in q["sql"].upper() for q in queries.captured_queries)

    page = admin_client.get(url, {"created_at__year": 2025}).content.decode()
    assert "created_at__month=1" in page and "created_at__month=4" in page
    assert "created_at__month=5" not in page

    page = admin_client.get(url, {"created_at__year": 2025, "created_at__month": 4}).content.decode()
    assert "created_at__day=2" in page and "created_at__day=3" not in page


@pytest.mark.django_db
def test_an_empty_ledger_shows_no_periods(admin_client):
    response = admin_client.get(reverse("admin:billing_transaction_changelist"))
    assert response.status_code == 200
    assert "created_at__year=" not in response.content.decode()
