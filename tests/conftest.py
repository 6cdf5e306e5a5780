"""Shared fixtures. The suite runs on whatever ``DATABASE_URL`` names: SQLite by default, PostgreSQL in CI."""

import itertools

import pytest
from django.db import connection

_telegram_ids = itertools.count(700_000_000)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if on_postgres():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Cached pages (the admin's stats) must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    """A browser that asks for English: the admin's tests read its texts as written in the code (msgids).
    Russian, the default for operators, is checked page by page in tests/i18n."""
    from django.test import Client
    from django.utils import translation

    yield Client(headers={"Accept-Language": "en"})
    translation.deactivate()  # the locale middleware leaves the request's language active on this thread


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def make_user(db):
    """Create a Telegram user through the real upsert service."""
    from accounts.services import user_upsert_from_telegram

    def make(**kwargs):
        kwargs.setdefault("telegram_id", next(_telegram_ids))
        kwargs.setdefault("first_name", "Test")
        return user_upsert_from_telegram(**kwargs)

    return make


def _fake_bot_api(settings):
    """The tests' Bot API server, with BOT_TOKEN and BOT_API_URL pointing at it for the test."""
    from tests.support.botapi import TOKEN, FakeBotAPI

    with FakeBotAPI() as server:
        settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, server.base_url
        yield server


api = pytest.fixture(_fake_bot_api, name="api")
bot_api = pytest.fixture(_fake_bot_api, name="bot_api")
