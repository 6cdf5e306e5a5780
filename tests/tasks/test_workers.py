"""Several db_worker processes share the queue without doing anything twice; a killed worker loses nothing."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from botworker.task_recovery import LOCK_NAMESPACE, _lock_key, task_results_recover_abandoned
from broadcasts.models import Broadcast, BroadcastRecipient, RecipientStatus
from tests.tasks import jobs
from tests.support.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

USERS = 2000
BATCH = 50


def _broadcast_to(count: int) -> tuple[Broadcast, list[int]]:
    User.objects.bulk_create([User(telegram_id=900_000_000 + i, first_name=f"U{i}") for i in range(count)])
    broadcast = Broadcast.objects.create(title="t", text="Новость", status="running")
    BroadcastRecipient.objects.bulk_create([
        BroadcastRecipient(broadcast=broadcast, user=u, telegram_id=u.telegram_id)
        for u in User.objects.filter(telegram_id__gte=900_000_000).order_by("telegram_id")])
    ids = list(BroadcastRecipient.objects.filter(broadcast=broadcast).order_by("id").values_list("id", flat=True))
    return broadcast, ids


def _deliver_with(workers, api, count: int) -> float:
    broadcast, ids = _broadcast_to(USERS)
    workers.start(count)
    workers.wait_ready()  # measure delivery, not Python start-up
    began = time.monotonic()
    with transaction.atomic():  # the whole broadcast becomes visible to the workers at once
        for start in range(0, len(ids), BATCH):
            jobs.deliver_batch.enqueue(broadcast_id=broadcast.id, recipient_ids=ids[start:start + BATCH])
    wait_until(lambda: not DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"]).exists(),
               timeout=120, message=f"{USERS} deliveries")
    elapsed = time.monotonic() - began
    workers.stop()
    assert not DBTaskResult.objects.filter(status="FAILED").exists(), workers.logs()
    per_chat = Counter(int(c.data["chat_id"]) for c in api.calls_of("sendMessage"))
    assert len(per_chat) == USERS and set(per_chat.values()) == {1}, "every user exactly once"
    assert BroadcastRecipient.objects.filter(status=RecipientStatus.SENT).count() == USERS
    return elapsed


def _lock_held(task_id) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
                       [LOCK_NAMESPACE, _lock_key(task_id)])
        return cursor.fetchone()[0] == 1


def test_three_workers_deliver_a_broadcast_to_2000_users_exactly_once(workers, api, capsys):
    three = _deliver_with(workers, api, 3)
    # The baseline in the same run: the same broadcast (fresh rows and fake server) through one worker.
    DBTaskResult.objects.all().delete()
    BroadcastRecipient.objects.all().delete()
    Broadcast.objects.all().delete()
    User.objects.all().delete()
    api.calls.clear()
    for log in workers.tmp_path.glob("worker-*.log"):
        log.unlink()
    one = _deliver_with(workers, api, 1)
    with capsys.disabled():
        print(f"\n[workers] {USERS} users in {USERS // BATCH} tasks: 1 worker {one:.2f}s, "
              f"3 workers {three:.2f}s (x{one / three:.2f})")


def test_a_job_whose_worker_is_killed_completes_once_after_the_sweep(workers, api):
    _, (recipient_id,) = _broadcast_to(1)
    result = jobs.finish_slowly.enqueue(recipient_id=recipient_id)
    (first,) = workers.start(1)
    wait_until(lambda: BroadcastRecipient.objects.get(id=recipient_id).attempts == 1, message="the job to start")
    first.kill()  # SIGKILL: no chance to record anything
    first.wait()
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.RUNNING  # abandoned, not failed

    # The timer's command enqueues the sweep; a surviving worker runs it, then runs the re-queued job.
    call_command("enqueue_periodic")
    workers.start(1, TASKS_ABANDONED_GRACE="0")
    row = wait_until(lambda: DBTaskResult.objects.filter(id=result.id, status="SUCCESSFUL").first(),
                     message="the job to complete after the sweep")
    recipient = BroadcastRecipient.objects.get(id=recipient_id)
    assert recipient.status == RecipientStatus.SENT and recipient.attempts == 2
    assert len(api.calls_of("sendMessage")) == 1
    assert len(row.worker_ids) == 2  # the dead worker and the one that finished it, same task id


def test_the_sweep_leaves_a_task_alone_while_its_worker_lives(workers, api):
    _, (recipient_id,) = _broadcast_to(1)
    result = jobs.finish_slowly.enqueue(recipient_id=recipient_id)
    workers.start(1)
    wait_until(lambda: BroadcastRecipient.objects.get(id=recipient_id).attempts == 1, message="the job to start")
    wait_until(lambda: _lock_held(result.id), message="the worker's liveness lock")
    assert task_results_recover_abandoned(grace=timedelta(0)) == {"requeued": [], "failed": []}
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.RUNNING


def test_a_task_that_keeps_killing_its_workers_is_failed_not_retried_forever(database_tasks):
    result = jobs.finish_slowly.enqueue(recipient_id=0)
    DBTaskResult.objects.filter(id=result.id).update(
        status="RUNNING", started_at="2020-01-01T00:00:00Z", worker_ids=["a", "b", "c"])
    assert task_results_recover_abandoned() == {"requeued": [], "failed": [str(result.id)]}
    row = DBTaskResult.objects.get(id=result.id)
    assert row.status == "FAILED" and "3 workers died" in row.traceback
