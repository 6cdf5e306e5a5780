"""The real broadcast service and delivery task (broadcasts.services / broadcasts.tasks) on 3 db_worker processes,
with the periodic timer firing mid-broadcast (its resume sweep must not start a second delivery chain): every user gets the
message exactly once."""

import time
from collections import Counter

import pytest
from django.core.management import call_command

from accounts.models import User
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from broadcasts.services import broadcast_start
from tests.support.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

USERS = 2000
# Telegram's 30 messages/s would make this a 70 s test: the fake Bot API has no limit. Short task links make the
# chain hop between workers.
FAST = {"BROADCAST_RATE_PER_SECOND": "5000", "BROADCAST_TASK_SECONDS": "1", "BROADCAST_BATCH_SIZE": "50"}


def _run_broadcast(workers, api, count: int) -> float:
    User.objects.bulk_create([User(telegram_id=910_000_000 + i, first_name=f"U{i}") for i in range(USERS)])
    broadcast = Broadcast.objects.create(title="Новости", text="<b>Новый стиль</b> уже в боте")
    workers.start(count, **FAST)
    workers.wait_ready()
    began = time.monotonic()
    broadcast_start(broadcast=broadcast.pk, started_by="test")  # enqueues delivery on commit
    wait_until(lambda: BroadcastRecipient.objects.filter(status=RecipientStatus.SENT).count() >= USERS // 4,
               timeout=60, message="a quarter delivered")
    call_command("enqueue_periodic")  # the timer fires mid-broadcast: broadcasts_resume_running adds a chain
    wait_until(lambda: Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.COMPLETED,
               timeout=120, message="the broadcast to complete")
    elapsed = time.monotonic() - began
    workers.stop()
    per_chat = Counter(int(c.data["chat_id"]) for c in api.calls_of("sendMessage"))
    assert len(per_chat) == USERS, workers.logs()
    assert set(per_chat.values()) == {1}, "every user exactly once"
    assert BroadcastRecipient.objects.filter(broadcast=broadcast, status=RecipientStatus.SENT).count() == USERS
    return elapsed


def test_a_broadcast_to_2000_users_on_3_workers_reaches_everyone_exactly_once(workers, api, capsys):
    elapsed = _run_broadcast(workers, api, 3)
    with capsys.disabled():
        print(f"\n[broadcast] {USERS} users through broadcasts.tasks.broadcast_deliver on 3 workers: {elapsed:.2f}s")
