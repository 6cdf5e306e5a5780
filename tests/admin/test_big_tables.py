"""Changelists of million-row tables must not run an exact COUNT(*) on every page view."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from common.admin import COUNT_CAP, EstimatedCountPaginator

USERS = reverse("admin:accounts_user_changelist")


def _bulk_users(n: int, *, premium_every: int = 0) -> None:
    now = timezone.now()
    User.objects.bulk_create(
        [User(id=uuid.uuid4(), telegram_id=10**9 + i, first_name="U", created_at=now,
              is_premium=bool(premium_every and i % premium_every == 0)) for i in range(n)],
        batch_size=2000,
    )


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.django_db
def test_small_lists_get_an_exact_count(make_user):
    for _ in range(7):
        make_user()
    assert EstimatedCountPaginator(User.objects.order_by("pk"), 5).count == 7
    assert EstimatedCountPaginator(User.objects.filter(is_premium=True).order_by("pk"), 5).count == 0


@pytest.mark.django_db
def test_the_changelist_never_counts_the_whole_table_for_the_total(admin_client, make_user):
    make_user()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS, {"is_premium__exact": "0"})
    assert response.status_code == 200
    # Only the capped page count runs; no second "of N total" count over the unfiltered table.
    counts = _counts(queries)
    assert len(counts) == 1 and "LIMIT" in counts[0].upper()


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgres_the_unfiltered_list_uses_the_planner_estimate(admin_client):
    _bulk_users(COUNT_CAP + 2000, premium_every=2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS)
    assert response.status_code == 200
    assert _counts(queries) == []  # no COUNT at all
    assert abs(response.context["cl"].result_count - (COUNT_CAP + 2000)) < 1000

    with CaptureQueriesContext(connection) as queries:
        filtered = admin_client.get(USERS, {"is_premium__exact": "1"})
    # A filtered list counts, but stops at the cap instead of scanning every match.
    assert filtered.context["cl"].result_count == min(COUNT_CAP + 1, (COUNT_CAP + 2000) // 2)
    assert len(_counts(queries)) == 1 and "LIMIT" in _counts(queries)[0].upper()


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgres_a_telegram_id_search_uses_the_unique_index(admin_client):
    _bulk_users(5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE users")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS, {"q": str(10**9 + 1234)})
    assert [u.telegram_id for u in response.context["cl"].result_list] == [10**9 + 1234]
    page_query = next(q["sql"] for q in queries.captured_queries
                      if 'FROM "users"' in q["sql"] and "COUNT(" not in q["sql"].upper())
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + page_query)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "users_telegram_id" in plan and "Seq Scan on users" not in plan
