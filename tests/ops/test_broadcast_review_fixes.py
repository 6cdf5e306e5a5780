"""Review fixes of broadcast delivery: one running broadcast enforced by the database, one delivery chain per
broadcast, the admin's task link follows the chain, a batch that cannot be sent pauses the broadcast."""

import pytest
from django.db import IntegrityError, transaction

from botworker import broadcasts
from botworker.models import Broadcast, BroadcastStatus


def _broadcast(**fields) -> Broadcast:
    fields.setdefault("title", "News")
    fields.setdefault("text", "<b>Новое</b> в боте")
    return Broadcast.objects.create(**fields)


def test_the_database_refuses_a_second_running_broadcast(db, bulk_users):
    bulk_users(2)
    broadcasts.broadcast_start(broadcast=_broadcast())
    other = _broadcast()
    with pytest.raises(IntegrityError), transaction.atomic():
        Broadcast.objects.filter(pk=other.pk).update(status=BroadcastStatus.RUNNING)
    assert Broadcast.objects.filter(status=BroadcastStatus.RUNNING).count() == 1


def test_two_operators_starting_at_the_same_moment_get_the_already_running_error(db, bulk_users, monkeypatch):
    bulk_users(2)
    broadcasts.broadcast_start(broadcast=_broadcast())
    # The second operator's check ran before the first start committed: only the constraint is left to refuse.
    monkeypatch.setattr(broadcasts, "_refuse_second_running", lambda broadcast: None)
    second = _broadcast()
    with pytest.raises(broadcasts.BroadcastAlreadyRunning):
        broadcasts.broadcast_start(broadcast=second)
    second.refresh_from_db()
    assert second.status == BroadcastStatus.DRAFT and not second.recipients.exists()

    paused = _broadcast(status=BroadcastStatus.PAUSED)
    with pytest.raises(broadcasts.BroadcastAlreadyRunning):
        broadcasts.broadcast_resume(broadcast=paused)
    paused.refresh_from_db()
    assert paused.status == BroadcastStatus.PAUSED


DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def database_tasks(settings):
    """Enqueue into the database as production does, so the queued links can be counted and run by a worker."""
    settings.TASKS = DB_TASKS


def _queued_links(broadcast) -> list:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(
        task_path="botworker.tasks.broadcast_deliver", status__in=["READY", "RUNNING"],
        args_kwargs__kwargs__broadcast_id=broadcast.pk))


def _run_one_task() -> None:
    """What a db_worker does with the next ready task (in this test's transaction: the command would close it)."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=1, worker_id="test-worker", excluded_queue_names=[])
    row = DBTaskResult.objects.ready().order_by("enqueued_at").first()
    row.claim(worker.worker_id)
    worker.run_task(row)


def test_the_periodic_sweep_and_pause_resume_never_add_a_second_delivery_chain(
        database_tasks, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(3)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)
    for _ in range(3):  # the periodic timer fires every ~5 minutes while the broadcast runs
        with django_capture_on_commit_callbacks(execute=True):
            assert broadcasts.broadcast_resume_running() == [broadcast.pk]
    assert len(_queued_links(broadcast)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_pause(broadcast=broadcast)
        broadcasts.broadcast_resume(broadcast=broadcast)
        broadcasts.broadcast_resume_running()
    links = _queued_links(broadcast)
    assert len(links) == 1
    broadcast.refresh_from_db()
    assert broadcast.task_id == str(links[0].pk)


def test_a_link_of_a_dead_worker_does_not_stop_the_sweep_from_restarting_delivery(
        database_tasks, bulk_users, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    bulk_users(2)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)
    broadcast.refresh_from_db()
    long_ago = timezone.now() - timedelta(hours=2)
    DBTaskResult.objects.filter(pk=broadcast.task_id).update(status="RUNNING", started_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_resume_running()
    assert [link.status for link in _queued_links(broadcast)] in (["RUNNING", "READY"], ["READY", "RUNNING"])


def test_the_admin_links_a_broadcast_to_its_newest_delivery_link(
        database_tasks, api, bulk_users, settings, admin_client, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from config.task_admin import task_result_url

    settings.BROADCAST_BATCH_SIZE = 1
    settings.BROADCAST_TASK_SECONDS = 0.001  # one batch a link, so the chain hops
    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(4)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            _run_one_task()
    links = DBTaskResult.objects.filter(task_path="botworker.tasks.broadcast_deliver").order_by("enqueued_at")
    assert [link.status for link in links] == ["SUCCESSFUL", "SUCCESSFUL", "READY"]
    broadcast.refresh_from_db()
    assert broadcast.task_id == str(links.last().pk)

    page = admin_client.get(f"/admin/botworker/broadcast/{broadcast.pk}/change/").content.decode()
    assert task_result_url(links.last().pk) in page
    assert task_result_url(links.first().pk) not in page


def _photo_broadcast(settings, bulk_users, n=5):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(n)
    broadcast = _broadcast(text="Фото")
    broadcast.photo.save("lost.png", ContentFile(b"\x89PNG fake"), save=True)
    return broadcast


def _recipients(broadcast) -> set:
    from botworker.models import BroadcastRecipient

    return set(BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status", "attempts", "error"))


def test_a_photo_missing_from_storage_pauses_the_broadcast_and_fails_nobody(
        api, bulk_users, settings, admin_client, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    broadcast = _photo_broadcast(settings, bulk_users)
    default_storage.delete(broadcast.photo.name)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)  # the delivery task runs at once in tests

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED
    assert "cannot be read" in broadcast.last_error and broadcast.photo.name in broadcast.last_error
    assert _recipients(broadcast) == {("pending", 0, "")}  # as if never claimed: not failed, not interrupted
    assert api.calls == []
    page = admin_client.get(f"/admin/botworker/broadcast/{broadcast.pk}/change/").content.decode()
    assert "cannot be read" in page


def test_telegram_refusing_the_photo_pauses_the_broadcast_instead_of_failing_everyone(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    broadcast = _photo_broadcast(settings, bulk_users)
    api.fail("sendPhoto", 400, times=1, description="Bad Request: IMAGE_PROCESS_FAILED")
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED and "IMAGE_PROCESS_FAILED" in broadcast.last_error
    assert _recipients(broadcast) == {("pending", 0, "")}
    assert len(api.calls_of("sendPhoto")) == 1  # nobody else was tried

    with django_capture_on_commit_callbacks(execute=True):  # the operator fixed the photo and resumes
        broadcasts.broadcast_resume(broadcast=broadcast)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.last_error == ""
    assert {status for status, _, _ in _recipients(broadcast)} == {"sent"}
