"""Two real web server processes (the Procfile's gunicorn + uvicorn workers) behind one PostgreSQL database:
Telegram's re-delivery of an update racing to both is handled exactly once."""

import json
import threading
import urllib.request
from collections import Counter

import pytest

from botworker.models import ProcessedUpdate
from botworker.webhook import SECRET_HEADER
from tests.support import updates
from tests.support.botapi import FakeBotAPI
from tests.support.processes import start_web, stop, subprocess_env
from tests.webhook.conftest import SECRET, webhook_path

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post(url: str, update: dict, statuses: list, barrier: threading.Barrier) -> None:
    request = urllib.request.Request(url + webhook_path(), data=json.dumps(update).encode(), method="POST",
                                     headers={"Content-Type": "application/json", SECRET_HEADER: SECRET})
    barrier.wait()
    with urllib.request.urlopen(request, timeout=30) as response:
        statuses.append(response.status)


@pytest.fixture
def two_servers(tmp_path):
    with FakeBotAPI() as api:
        env = subprocess_env(bot_api_url=api.base_url, BOT_WEBHOOK_SECRET=SECRET)
        servers = []
        try:
            # One of the two with a connection pool (DATABASE_POOL_MAX), as webhook web processes may run.
            servers += [start_web(dict(env, DATABASE_POOL_MAX=str(n * 4)), tmp_path / f"web-{n}.log")
                        for n in range(2)]
            yield api, [url for _, url in servers]
        finally:
            for proc, _ in servers:
                stop(proc)


def test_the_same_update_posted_to_two_processes_at_once_is_handled_once(two_servers):
    api, urls = two_servers
    rounds = 10
    statuses: list[int] = []
    for n in range(rounds):
        update = dict(updates.message(7000 + n, "/start"), update_id=9000 + n)
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_post, args=(url, update, statuses, barrier)) for url in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == [200] * (2 * rounds)
    per_chat = Counter(str(c.data["chat_id"]) for c in api.calls_of("sendMessage"))
    assert per_chat == {str(7000 + n): 1 for n in range(rounds)}
    assert ProcessedUpdate.objects.filter(update_id__gte=9000).count() == rounds
