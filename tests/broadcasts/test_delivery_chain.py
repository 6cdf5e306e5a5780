"""The delivery chain: one chain per broadcast however often the sweep fires or an operator pauses and resumes, a
link of a dead worker does not block a restart, the admin links the broadcast to its newest link."""

from broadcasts import services, tasks
from tests.broadcasts.helpers import DELIVERY_TASK, new_broadcast, queued_links, run_one_task


def test_the_periodic_sweep_and_pause_resume_never_add_a_second_delivery_chain(
        database_tasks, bulk_users, django_capture_on_commit_callbacks):
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
        database_tasks, bulk_users, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

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
    from django_tasks_db.models import DBTaskResult

    from config.task_admin import task_result_url

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
