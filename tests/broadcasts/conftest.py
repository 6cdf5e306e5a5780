"""Fixtures of the broadcast tests: users made in bulk, and the database task backend with real ``db_worker``
processes (the fake Bot API, ``api``, comes from the root conftest)."""

import itertools

import pytest

from tests.support.workers import database_tasks, workers  # noqa: F401  the worker fixtures

_ids = itertools.count(810_000_000)


@pytest.fixture
def bulk_users(db):
    """Create ``n`` bot users at once (bulk insert); returns them with their Telegram ids."""
    from accounts.models import User

    def make(n: int, **fields) -> list[User]:
        users = [User(telegram_id=next(_ids), first_name=f"U{i}", **fields) for i in range(n)]
        User.objects.bulk_create(users, batch_size=1000)
        return users

    return make
