"""Fixtures of the broadcast tests: the fake Bot API with settings pointing at it, users made in bulk, and the
database task backend with real ``db_worker`` processes."""

import itertools

import pytest

from tests.support.botapi import TOKEN, FakeBotAPI
from tests.support.workers import database_tasks, workers  # noqa: F401  the worker fixtures

_ids = itertools.count(810_000_000)


@pytest.fixture
def api(settings):
    with FakeBotAPI() as server:
        settings.BOT_TOKEN = TOKEN
        settings.BOT_API_URL = server.base_url
        yield server


@pytest.fixture
def bulk_users(db):
    """Create ``n`` bot users at once (bulk insert); returns them with their Telegram ids."""
    from accounts.models import User

    def make(n: int, **fields) -> list[User]:
        users = [User(telegram_id=next(_ids), first_name=f"U{i}", **fields) for i in range(n)]
        User.objects.bulk_create(users, batch_size=1000)
        return users

    return make
