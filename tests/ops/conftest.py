"""Fixtures of the operations tests: the fake Bot API with settings pointing at it."""

import pytest

from tests.support.botapi import TOKEN, FakeBotAPI


@pytest.fixture
def api(settings):
    with FakeBotAPI() as server:
        settings.BOT_TOKEN = TOKEN
        settings.BOT_API_URL = server.base_url
        yield server
