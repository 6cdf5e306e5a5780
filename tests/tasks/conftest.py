"""Real ``db_worker`` subprocesses on the live test database (PostgreSQL), talking to the tests' fake Bot API."""

import pytest

from tests.support.botapi import FakeBotAPI
from tests.support.workers import database_tasks, workers  # noqa: F401  the worker fixtures


@pytest.fixture
def api():
    with FakeBotAPI() as server:
        yield server
