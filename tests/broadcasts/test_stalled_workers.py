"""A stalled broadcast worker (SIGSTOP/SIGCONT: a GC pause, a busy host) must not make up for lost time: the
turns it slept through are given up (their rows go back to pending, never attempted) instead of going out at
once, so no second holds more than ``BROADCAST_RATE_PER_SECOND`` sends, and every user still gets the message
exactly once. Two ``db_worker`` processes share the send schedule while both are stopped twice mid-broadcast."""

import os
import signal
import time
from collections import Counter

import pytest

from accounts.models import User
from broadcasts import tasks
from broadcasts.services import broadcast_start
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from tests.support.processes import wait_until
from tests.support.rates import max_in_any_second

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RATE = 30
USERS = 300
STALL_SECONDS = 2.5
# Batches of 100 (3.5 s of sending): with two workers the schedule is reserved seconds ahead, so a stall always
# has turns to sleep through. Links long enough to see the broadcast through, however busy the machine.
SETTINGS = {"BROADCAST_RATE_PER_SECOND": str(RATE), "BROADCAST_BATCH_SIZE": "100", "BROADCAST_TASK_SECONDS": "600"}


def _stall(procs, seconds: float) -> None:
    for proc in procs:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGCONT)


def test_a_stalled_worker_gives_up_overdue_turns_instead_of_bursting_past_the_rate(workers, api):
    User.objects.bulk_create([User(telegram_id=930_000_000 + i, first_name=f"U{i}") for i in range(USERS)])
    broadcast = Broadcast.objects.create(title="Пауза", text="Новый стиль уже в боте")
    procs = workers.start(2, **SETTINGS)
    workers.wait_ready()
    broadcast_start(broadcast=broadcast.pk, started_by="test")  # one delivery link, enqueued on commit
    # A second link at once, so that both workers send, each in its own slots of the shared schedule.
    tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)

    def sent() -> int:
        return len(api.calls_of("sendMessage"))

    for after in (40, 40):  # stopped twice, each time while messages are going out
        goal = sent() + after
        wait_until(lambda: sent() >= goal, timeout=60, message=f"{goal} sends")
        _stall(procs, STALL_SECONDS)
    wait_until(lambda: Broadcast.objects.get(pk=broadcast.pk).status == BroadcastStatus.COMPLETED,
               timeout=120, message="the broadcast to complete")
    workers.stop()

    per_chat = Counter(int(c.data["chat_id"]) for c in api.calls_of("sendMessage"))
    assert len(per_chat) == USERS and set(per_chat.values()) == {1}, workers.logs()
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast)
    assert Counter(rows.values_list("status", flat=True)) == {RecipientStatus.SENT: USERS}
    # Exact, whatever the load: the moments the limiter let the messages go, as recorded on the rows.
    assert max_in_any_second(list(rows.values_list("sent_at", flat=True))) <= RATE
    # As the fake Telegram saw them. A correct limiter keeps this at RATE too, but a busy test process can
    # receive (and time-stamp) requests in bunches; a burst of everything overdue after a 2.5 s stall is ~100.
    assert max_in_any_second([c.at for c in api.calls_of("sendMessage")]) <= 2 * RATE
