"""The sweep and PostgreSQL restarts: a restart releases every worker's liveness lock, so a free lock proves a dead
worker only for tasks started after the server; older tasks are judged by TASKS_ABANDONED_AFTER too. A worker takes
its lock even while a sweep is testing it."""

import subprocess
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, connections
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from botworker import task_recovery
from botworker.task_recovery import LOCK_NAMESPACE, _lock_key, task_results_recover_abandoned
from broadcasts.models import Broadcast, BroadcastRecipient
from tests.support.processes import ROOT, wait_until
from tests.tasks import jobs

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def test_thread_reconnects(transactional_db):
    """A restart also kills this thread's connection, which pytest-django needs to flush the database."""
    yield
    connection.close()


def restart_postgresql() -> None:
    subprocess.run(["bash", "scripts/postgres", "restart"], check=True, timeout=60, cwd=ROOT,
                   env={"PGPORT": str(connection.settings_dict["PORT"]), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


def lock_holders(task_id) -> int:
    observer = connections.create_connection("default")
    try:
        with observer.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid"
                           " AND objid = %s::oid AND objsubid = 2 AND granted", [LOCK_NAMESPACE, _lock_key(task_id)])
            return cursor.fetchone()[0]
    finally:
        observer.close()


def server_started_at():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_postmaster_start_time()")
        return cursor.fetchone()[0]


def running_since(started_at) -> DBTaskResult:
    result = jobs.finish_slowly.enqueue(recipient_id=0)
    DBTaskResult.objects.filter(id=result.id).update(status="RUNNING", started_at=started_at, worker_ids=["w"])
    return DBTaskResult.objects.get(id=result.id)


def test_a_task_running_since_before_the_server_started_is_left_alone_though_its_lock_is_free(database_tasks):
    row = running_since(server_started_at() - timedelta(seconds=5))  # its worker's lock went with the restart
    assert lock_holders(row.id) == 0
    assert task_results_recover_abandoned(grace=timedelta(0)) == {"requeued": [], "failed": []}
    assert DBTaskResult.objects.get(id=row.id).status == TaskResultStatus.RUNNING


def test_a_task_from_before_the_restart_and_older_than_the_abandon_age_is_recovered(database_tasks, settings):
    settings.TASKS_ABANDONED_AFTER = 60
    row = running_since(server_started_at() - timedelta(seconds=61))
    assert task_results_recover_abandoned(grace=timedelta(0)) == {"requeued": [str(row.id)], "failed": []}
    assert DBTaskResult.objects.get(id=row.id).status == TaskResultStatus.READY


def test_a_running_worker_keeps_its_task_through_a_postgresql_restart(workers, api, test_thread_reconnects):
    user = User.objects.create(telegram_id=910_000_001, first_name="U")
    broadcast = Broadcast.objects.create(title="t", text="Новость", status="running")
    recipient = BroadcastRecipient.objects.create(broadcast=broadcast, user=user, telegram_id=user.telegram_id)
    result = jobs.finish_slowly.enqueue(recipient_id=recipient.id)
    workers.start(1)
    wait_until(lambda: lock_holders(result.id) == 1, timeout=60, message="the worker's liveness lock")

    restart_postgresql()
    connection.close()  # this thread's session died with the restart
    assert lock_holders(result.id) == 0  # the worker still runs the task, its lock is gone
    assert task_results_recover_abandoned(grace=timedelta(0)) == {"requeued": [], "failed": []}
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.RUNNING


def test_a_worker_takes_its_lock_even_while_a_sweep_tests_it(database_tasks):
    task_id = jobs.finish_slowly.enqueue(recipient_id=0).id
    held, release = threading.Event(), threading.Event()

    def sweep_holding_the_lock():
        sweep = connections.create_connection("default")
        with sweep.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, _lock_key(task_id)])
            held.set()
            release.wait(10)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, _lock_key(task_id)])
        sweep.close()

    thread = threading.Thread(target=sweep_holding_the_lock)
    thread.start()
    held.wait(10)
    threading.Timer(0.3, release.set).start()  # the sweep lets go a moment later
    task_result = SimpleNamespace(id=task_id, db_result=object())
    try:
        task_recovery._hold_liveness_lock(sender=None, task_result=task_result)
        thread.join(10)
        assert lock_holders(task_id) == 1  # the worker's, taken once the sweep let go
        assert task_results_recover_abandoned(grace=timedelta(0)) == {"requeued": [], "failed": []}
    finally:
        release.set()
        task_recovery._release_liveness_lock(sender=None, task_result=task_result)
    assert lock_holders(task_id) == 0
