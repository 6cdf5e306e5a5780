"""The delivery chain: one chain per broadcast however often the sweep fires or an operator pauses and resumes, a
link of a dead worker does not block a restart, the admin links the broadcast to its newest link; a link that ends
with rows pending always leaves exactly one link that runs now."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from broadcasts import delivery, services, tasks
from broadcasts.models import RecipientStatus
from broadcasts.types import BatchResult, Outcome
from common.task_admin import task_result_url
from tests.broadcasts.helpers import DELIVERY_TASK, deliveries_per_chat, new_broadcast, queued_links, run_one_task


def test_the_periodic_sweep_and_pause_resume_never_add_a_second_delivery_chain(
        database_tasks, api, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(3)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    for _ in range(3):  # the periodic timer fires every ~5 minutes while the broadcast runs
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.broadcast_resume_running() == [broadcast.pk]
    assert len(queued_links(broadcast)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_pause(broadcast=broadcast)
        services.broadcast_resume(broadcast=broadcast)
        tasks.broadcast_resume_running()
    links = queued_links(broadcast)
    assert len(links) == 1
    broadcast.refresh_from_db()
    assert broadcast.task_id == str(links[0].pk)


def test_a_link_of_a_dead_worker_does_not_stop_the_sweep_from_restarting_delivery(
        database_tasks, api, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(2)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    broadcast.refresh_from_db()
    long_ago = timezone.now() - timedelta(hours=2)
    DBTaskResult.objects.filter(pk=broadcast.task_id).update(status="RUNNING", started_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.broadcast_resume_running()
    assert [link.status for link in queued_links(broadcast)] in (["RUNNING", "READY"], ["READY", "RUNNING"])


def test_the_admin_links_a_broadcast_to_its_newest_delivery_link(
        database_tasks, api, bulk_users, settings, admin_client, django_capture_on_commit_callbacks):
    settings.BROADCAST_BATCH_SIZE = 1
    settings.BROADCAST_TASK_SECONDS = 0.001  # one batch a link, so the chain hops
    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(4)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            run_one_task()
    links = DBTaskResult.objects.filter(task_path=DELIVERY_TASK).order_by("enqueued_at")
    assert [link.status for link in links] == ["SUCCESSFUL", "SUCCESSFUL", "READY"]
    broadcast.refresh_from_db()
    assert broadcast.task_id == str(links.last().pk)

    page = admin_client.get(f"/admin/broadcasts/broadcast/{broadcast.pk}/change/").content.decode()
    assert task_result_url(links.last().pk) in page
    assert task_result_url(links.first().pk) not in page


def _due_links(broadcast) -> list:
    return [link for link in queued_links(broadcast) if DBTaskResult.objects.ready().filter(pk=link.pk).exists()]


def _run_queue(capture) -> None:
    """Run what is due, as a worker does, until nothing is (each task's hand-over runs once it is done)."""
    while DBTaskResult.objects.ready().exists():
        with capture(execute=True):
            run_one_task()


def test_pending_rows_left_by_a_link_never_wait_for_a_deferred_check(
        database_tasks, api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(6)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    held = delivery.broadcast_claim_batch(broadcast_id=broadcast.pk, size=2)  # another worker is sending these
    with django_capture_on_commit_callbacks(execute=True):
        run_one_task()  # sends the other 4, then checks back for the 2 once they would be stale (~10 minutes)
    assert len(queued_links(broadcast)) == 1 and _due_links(broadcast) == []

    # The other worker gave its turns up (it stalled): its 2 rows are pending again. A link whose time is up (an
    # extra link, enqueued by hand, with no time to send) ends with them pending.
    delivery.broadcast_record_batch(broadcast_id=broadcast.pk, result=BatchResult(outcomes=[
        Outcome(t.recipient_id, t.telegram_id, RecipientStatus.PENDING, unclaim=True) for t in held.targets]))
    settings.BROADCAST_TASK_SECONDS = 0
    extra = tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)
    with django_capture_on_commit_callbacks(execute=True):
        run_one_task()
    assert DBTaskResult.objects.get(pk=extra.id).return_value == {"batches": 0, "sent": 0, "next": "chained"}

    assert len(queued_links(broadcast)) == 1 and len(_due_links(broadcast)) == 1  # one chain, and it runs now
    settings.BROADCAST_TASK_SECONDS = 60
    _run_queue(django_capture_on_commit_callbacks)
    broadcast.refresh_from_db()
    assert broadcast.status == "completed" and set(deliveries_per_chat(api).values()) == {1}
    assert len(deliveries_per_chat(api)) == 6


@pytest.mark.parametrize("first", ["head", "other"])
def test_two_links_handing_over_at_the_same_moment_leave_exactly_one_link(
        first, database_tasks, api, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(3)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)  # its first link is the chain's head
    broadcast.refresh_from_db()
    extra = tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)  # a second link, as two workers may run
    links = {"head": broadcast.task_id, "other": str(extra.id)}
    for n, link_id in enumerate(links.values()):
        DBTaskResult.objects.get(pk=link_id).claim(f"worker-{n}")
    # Both end with rows pending and hand over before either's worker has recorded its result (both still RUNNING).
    second = "other" if first == "head" else "head"
    for name in (first, second):
        tasks.broadcast_enqueue_delivery(broadcast_id=broadcast.pk, current_task_id=links[name])

    waiting = [link for link in queued_links(broadcast) if link.status == "READY"]
    assert len(waiting) == 1 and _due_links(broadcast) == waiting
    broadcast.refresh_from_db()
    assert broadcast.task_id == str(waiting[0].pk)
