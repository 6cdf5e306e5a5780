import threading

import pytest
from django.db import close_old_connections

from accounts.models import User
from accounts.services import user_upsert_from_telegram


@pytest.mark.django_db
@pytest.mark.parametrize("premium", ["absent", None])
def test_missing_or_null_is_premium_becomes_false_on_create(premium):
    kwargs = {"telegram_id": 42705442, "first_name": "Сергей"}
    if premium is None:
        kwargs["is_premium"] = None
    user = user_upsert_from_telegram(**kwargs)
    user.refresh_from_db()
    assert user.is_premium is False
    assert user.is_bot is False


@pytest.mark.django_db
def test_null_from_telegram_never_overwrites_a_stored_value():
    user_upsert_from_telegram(telegram_id=1, first_name="A", username="anna", is_premium=True, language_code="en")
    user_upsert_from_telegram(telegram_id=1, first_name="A", username=None, is_premium=None, language_code=None)
    user = User.objects.get(telegram_id=1)
    assert user.is_premium is True
    assert user.username == "anna"
    assert user.language_code == "en"


@pytest.mark.django_db
def test_a_real_change_is_stored():
    user_upsert_from_telegram(telegram_id=2, first_name="A", is_premium=True)
    user_upsert_from_telegram(telegram_id=2, first_name="B", is_premium=False, username="new")
    user = User.objects.get(telegram_id=2)
    assert (user.first_name, user.is_premium, user.username) == ("B", False, "new")


@pytest.mark.django_db(transaction=True)
def test_two_updates_for_a_new_user_at_once_create_one_user_and_raise_nothing():
    errors, barrier = [], threading.Barrier(8)

    def upsert():
        try:
            barrier.wait()
            user_upsert_from_telegram(telegram_id=555, first_name="Race", is_premium=None)
        except Exception as exc:  # noqa: BLE001 - the test reports any escape
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=upsert) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert User.objects.filter(telegram_id=555).count() == 1
