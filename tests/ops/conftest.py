"""Fixtures of the operations tests: the fake Bot API with settings pointing at it, and users made in bulk."""

import itertools

import pytest

from tests.support.botapi import TOKEN, FakeBotAPI

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

