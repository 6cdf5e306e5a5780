"""The stats page: its figures on a seeded dataset (days of TIME_ZONE, Europe/Moscow), its charts and period."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, UserActivity
from backoffice.stats import stats_collect
from billing import services as billing_services
from billing.models import Transaction
from common.periods import day_start
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration
from payments.services.credit import stars_topup_credit

STATS = reverse("admin-stats")


def at(day, hours: float):
    """An instant ``hours`` after the start of ``day`` in TIME_ZONE."""
    return day_start(day) + timedelta(hours=hours)


def dated(entry, when):
    Transaction.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


def stars(user, charge_id: str, amount: int, when):
    entry = stars_topup_credit(user=user, charge_id=charge_id, payload="", invoice=None, stars=amount,
                               telegram_user_id=user.telegram_id, created_by="test")
    return dated(entry, when)


def generation(user, when, status=GenerationStatus.COMPLETED):
    ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p", status=status, created_at=when)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def seeded(make_user, today):
    """Four users over the 30 days ending today (D):
    anna joined D-2, paid 100 Stars at 02:30 on D-1 (23:30 UTC on D-2) and 50 on D, spent 20 on D-1, 3 generations
    on D-1 (one failed), active D-1 and D; boris joined D-40, paid 30 Stars on D-40, active D-10 and D-40;
    clara joined D, an operator's 25.50 top-up, charged 10 (refunded) and 5 on D, 2 generations on D, active D;
    denis joined D-5, active D-8. One more generation on D-31, outside the period."""
    anna, boris, clara, denis = make_user(), make_user(), make_user(), make_user()
    for user, joined in ((anna, -2), (boris, -40), (clara, 0), (denis, -5)):
        User.objects.filter(pk=user.pk).update(created_at=at(today + timedelta(days=joined), 1))
    UserActivity.objects.all().delete()  # make_user's own activity of today; the days are set below
    for user, offsets in ((anna, (-1, 0)), (boris, (-10, -40)), (clara, (0,)), (denis, (-8,))):
        UserActivity.objects.bulk_create(UserActivity(user=user, day=today + timedelta(days=o)) for o in offsets)

    stars(anna, "ch-1", 100, at(today - timedelta(days=1), 2.5))
    stars(anna, "ch-2", 50, at(today, 1))
    stars(boris, "ch-0", 30, at(today - timedelta(days=40), 12))
    dated(billing_services.balance_debit(user=anna, amount=20), at(today - timedelta(days=1), 3))
    dated(billing_services.balance_credit(user=clara, amount="25.50"), at(today, 1))
    charge = dated(billing_services.balance_debit(user=clara, amount=10), at(today, 1.5))
    dated(billing_services.balance_refund(entry=charge), at(today, 1.6))
    dated(billing_services.balance_debit(user=clara, amount=5), at(today, 2))

    for status in (GenerationStatus.COMPLETED, GenerationStatus.COMPLETED, GenerationStatus.FAILED):
        generation(anna, at(today - timedelta(days=1), 3), status)
    generation(clara, at(today, 2))
    generation(clara, at(today, 2.5))
    generation(boris, at(today - timedelta(days=31), 12), GenerationStatus.FAILED)
    Avatar.objects.create(user=anna, name="a", gender="male", status=AvatarStatus.COMPLETED)
    Avatar.objects.create(user=boris, name="b", gender="female", status=AvatarStatus.ERROR)
    return {"anna": anna, "boris": boris, "clara": clara, "denis": denis}


@pytest.mark.django_db
def test_the_figures_of_a_seeded_month(seeded, today):
    f = stats_collect(until=today, days=30)
    assert (f.since, f.until, len(f.days)) == (today - timedelta(days=29), today, 30)
    # Stars by the day of payment in Moscow: the 02:30 payment belongs to D-1, not to D-2 as in UTC.
    assert f.stars[-3:] == [0, 100, 50] and sum(f.stars) == 150
    assert (f.payers.ever, f.payers.in_period) == (2, 1)
    assert f.users == {"users_total": 4, "users_with_balance": 3, "users_without_balance": 1,
                       "balance_sum": Decimal("180.50")}
    assert f.conversion == Decimal("50.0")
    assert (f.active.day, f.active.week, f.active.month) == (2, 2, 4)
    assert f.active_per_day[-2:] == [1, 2] and sum(f.active_per_day) == 5
    assert f.new_users[-3:] == [1, 0, 1] and sum(f.new_users) == 3  # boris joined before the period
    topups = f.topup_total
    assert (topups.stars, topups.stars_count, topups.operator, topups.operator_count) == (
        Decimal("150"), 2, Decimal("25.50"), 1)
    assert (topups.total, topups.count) == (Decimal("175.50"), 3)
    assert [day.stars for day in f.topups[-2:]] == [Decimal("100"), Decimal("50")]
    assert f.spending[-2:] == [Decimal("20"), Decimal("5")] and sum(f.spending) == Decimal("25")
    assert f.generations[-2:] == [3, 2] and sum(f.generations) == 5
    assert f.failed_generations[-2:] == [1, 0] and sum(f.failed_generations) == 1
    assert f.avatars == {AvatarStatus.COMPLETED: 1, AvatarStatus.ERROR: 1}


@pytest.mark.django_db
def test_a_shorter_period_ending_earlier(seeded, today):
    f = stats_collect(until=today - timedelta(days=1), days=7)
    assert sum(f.stars) == 100 and f.topup_total.operator == 0
    # As of D-1: anna that day; denis (D-8) and boris (D-10) within the month; clara only on D.
    assert (f.active.day, f.active.week, f.active.month) == (1, 1, 3)


@pytest.mark.django_db
def test_the_figures_take_ten_queries_whatever_the_data(seeded, today):
    with CaptureQueriesContext(connection) as queries:
        stats_collect(until=today, days=365)
    assert len(queries.captured_queries) <= 10


@pytest.mark.django_db
def test_the_page_shows_the_figures_and_dated_svg_charts(admin_client, seeded, today):
    html = admin_client.get(STATS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('class="stats-chart"') == 6
    # One bar a day; the top-ups and generations charts stack two layers, each with its hover title.
    assert html.count("</title></rect>") == 30 * 8
    yesterday = (today - timedelta(days=1)).strftime("%m/%d/%Y")
    assert f"<title>{yesterday} — Stars, XTR: 100</title>" in html
    assert f"<title>{yesterday} — Failed: 1 (3)</title>" in html
    assert html.count('class="x-label"') >= 6 * 5  # dates along each chart's x axis
    assert 'id="stars-total"><div>Telegram Stars received</div><div class="number">150 XTR</div>' in html
    assert '<div class="number">50%</div>' in html
    assert '<div class="number">2 / 2 / 4</div>' in html
    assert '<div>Top-ups via Telegram Stars</div><div class="number">150.00</div>' in html
    assert '<div>Top-ups by operators</div><div class="number">25.50</div>' in html
    assert html.count('<tr><th>') >= 30


@pytest.mark.django_db
def test_the_page_shows_money_with_separators_in_russian(admin_client, seeded, make_user, today):
    billing_services.balance_credit(user=make_user(), amount="12345.5")
    html = admin_client.get(STATS, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<div>Пополнения операторами</div><div class="number">12\xa0371,00</div>' in html


@pytest.mark.django_db
def test_the_period_selector_chooses_days_and_the_last_day(admin_client, seeded, today):
    html = admin_client.get(STATS, {"days": 7, "until": (today - timedelta(days=1)).isoformat()}).content.decode()
    assert html.count("</title></rect>") == 7 * 8
    assert 'id="stars-total"><div>' in html and '<div class="number">100 XTR</div>' in html
    # Anything else falls back to the last 30 days.
    assert admin_client.get(STATS, {"days": "12"}).content.decode().count("</title></rect>") == 30 * 8


@pytest.mark.django_db
def test_the_admin_index_links_the_stats_page(admin_client):
    assert STATS.encode() in admin_client.get(reverse("admin:index")).content


@pytest.mark.django_db
def test_the_stats_page_is_for_staff_only(client):
    response = client.get(STATS)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_a_second_view_within_a_minute_reuses_the_computed_figures(admin_client, seeded):
    admin_client.get(STATS)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(STATS)
    assert response.status_code == 200
    assert not any("image_generations" in q["sql"] or "transactions" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_staff_without_ledger_access_cannot_see_the_revenue_figures(staff_client):
    assert staff_client().get(STATS).status_code == 403
    assert staff_client("billing.view_transaction", username="accountant").get(STATS).status_code == 200


@pytest.mark.django_db
def test_the_period_choices_speak_the_operators_language(admin_client):
    assert ">30 days</option>" in admin_client.get(STATS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">30 дней</option>" in admin_client.get(STATS, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert ">7 days</option>" in admin_client.get(STATS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
