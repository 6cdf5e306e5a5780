from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing import services as billing_services
from billing.models import TransactionType
from config.admin_stats import stats_collect
from generations.models import Avatar, AvatarStatus, ImageGeneration

STATS = reverse("admin-stats")


@pytest.fixture
def activity(make_user):
    now = timezone.now()
    payer, idle = make_user(), make_user()
    User.objects.filter(pk=idle.pk).update(created_at=now - timedelta(days=3))
    make_user()  # joined 40 days ago: outside the window, but counted in the total
    User.objects.filter(pk=User.objects.order_by("-created_at").first().pk).update(created_at=now - timedelta(days=40))
    billing_services.balance_credit(user=payer, amount=100, type=TransactionType.TOPUP, idempotency_key="stars:1")
    charge = billing_services.balance_debit(user=payer, amount=30)
    billing_services.balance_refund(entry=charge)
    billing_services.balance_debit(user=payer, amount=5)
    for _ in range(3):
        ImageGeneration.objects.create(user=payer, original_prompt="p", final_prompt="p")
    Avatar.objects.create(user=payer, name="a", gender="male", status=AvatarStatus.COMPLETED)
    Avatar.objects.create(user=idle, name="b", gender="female", status=AvatarStatus.ERROR)
    return payer


@pytest.mark.django_db
def test_stats_count_users_money_and_generations(activity):
    stats = stats_collect()
    assert (stats["users_total"], stats["users_with_balance"], stats["users_without_balance"]) == (3, 1, 2)
    new_users, topups, spending, generations = stats["series"]
    assert new_users.total == 2  # the 40-day-old user is outside the 30 days
    assert topups.total == Decimal("100")
    assert spending.total == Decimal("5")  # 30 + 5 charged, 30 refunded
    assert generations.total == 3
    assert len(new_users.points) == 30 and new_users.points[-1][0] == timezone.localdate()
    assert dict(stats["avatars_by_status"])[AvatarStatus.COMPLETED.label] == 1


@pytest.mark.django_db
def test_stats_take_a_handful_of_queries(activity):
    with CaptureQueriesContext(connection) as queries:
        stats_collect()
    assert len(queries.captured_queries) <= 6


@pytest.mark.django_db
def test_the_stats_page_renders_numbers_and_svg_charts(admin_client, activity):
    response = admin_client.get(STATS)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="stats-chart"') == 4 and html.count("<rect") == 4 * 30
    assert 'id="users-total"><div>' in html and '<div class="number">3</div>' in html
    assert '<span class="series-total">100' in html


@pytest.mark.django_db
def test_the_admin_index_links_the_stats_page(admin_client):
    assert STATS.encode() in admin_client.get(reverse("admin:index")).content


@pytest.mark.django_db
def test_the_stats_page_is_for_staff_only(client, make_user):
    response = client.get(STATS)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_a_second_view_within_a_minute_reuses_the_computed_figures(admin_client, activity):
    admin_client.get(STATS)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(STATS)
    assert response.status_code == 200
    assert not any("image_generations" in q["sql"] or "transactions" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_staff_without_ledger_access_cannot_see_the_revenue_figures(staff_client):
    assert staff_client().get(STATS).status_code == 403
    assert staff_client("billing.view_transaction", username="accountant").get(STATS).status_code == 200
