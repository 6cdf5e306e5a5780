"""Active days: the upsert of each update records a user's day of activity (TIME_ZONE) at most once a day, without
an extra query for a user already seen that day."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User, UserActivity
from accounts.services import user_upsert_from_telegram
from common.periods import day_start


def upsert(telegram_id: int = 7001) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as queries:
        user_upsert_from_telegram(telegram_id=telegram_id, first_name="Анна")
    return queries


def activity_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "user_activity_days" in q["sql"]]


@pytest.mark.django_db
def test_a_new_user_is_active_today():
    upsert()
    assert list(UserActivity.objects.values_list("user__telegram_id", "day")) == [(7001, timezone.localdate())]


@pytest.mark.django_db
def test_two_more_updates_the_same_day_write_no_activity_and_add_no_query():
    upsert()
    second, third = upsert(), upsert()
    assert activity_queries(second) == [] and activity_queries(third) == []
    assert len(second.captured_queries) == 1  # only the user's read: last seen less than a minute ago
    assert UserActivity.objects.count() == 1


@pytest.mark.django_db
def test_an_update_after_the_minute_the_same_day_writes_last_seen_but_no_activity():
    upsert()
    now = timezone.now()
    # Earlier today (or a second after midnight, when today is younger than two minutes).
    earlier = max(now - timedelta(minutes=2), day_start(timezone.localdate(now)))
    User.objects.filter(telegram_id=7001).update(last_activity_at=earlier)
    queries = upsert()
    assert activity_queries(queries) == []
    assert UserActivity.objects.count() == 1


@pytest.mark.django_db
def test_the_first_update_of_a_new_day_records_that_day_once():
    upsert()
    yesterday = timezone.localdate() - timedelta(days=1)
    UserActivity.objects.update(day=yesterday)
    # Last seen at 23:59 yesterday in TIME_ZONE: the minute rule alone would not write again, the new day does.
    User.objects.filter(telegram_id=7001).update(last_activity_at=day_start(timezone.localdate()) - timedelta(seconds=30))
    first, second = upsert(), upsert()
    assert len(activity_queries(first)) == 1 and activity_queries(second) == []
    assert sorted(UserActivity.objects.values_list("day", flat=True)) == [yesterday, timezone.localdate()]
    assert timezone.localdate(User.objects.get(telegram_id=7001).last_activity_at) == timezone.localdate()


@pytest.mark.django_db
def test_a_day_already_recorded_by_a_concurrent_update_is_not_an_error():
    upsert()
    User.objects.filter(telegram_id=7001).update(last_activity_at=timezone.now() - timedelta(days=1))
    upsert()  # today's row exists already (written when the user was created): ignored
    assert UserActivity.objects.count() == 1
