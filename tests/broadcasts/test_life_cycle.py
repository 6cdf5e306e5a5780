"""A broadcast's life cycle: one runs at a time (the database too refuses a second), an empty audience is refused,
pause stops between batches and resume continues, cancel leaves the rest unsent."""

import pytest
from django.db import IntegrityError, transaction

from broadcasts import selectors, services, tasks
from broadcasts.exceptions import BroadcastAlreadyRunning, BroadcastInvalid, BroadcastStateError
from broadcasts.models import Broadcast, BroadcastAudience, BroadcastStatus
from broadcasts.types import Progress
from tests.broadcasts.helpers import deliveries_per_chat, new_broadcast


def test_only_one_broadcast_runs_at_a_time_and_an_empty_audience_is_refused(api, bulk_users):
    bulk_users(2)
    first = services.broadcast_start(broadcast=new_broadcast())
    with pytest.raises(BroadcastAlreadyRunning):
        services.broadcast_start(broadcast=new_broadcast())
    services.broadcast_cancel(broadcast=first)
    with pytest.raises(BroadcastInvalid):
        services.broadcast_start(broadcast=new_broadcast(audience=BroadcastAudience.PREMIUM))
    with pytest.raises(BroadcastInvalid):
        services.broadcast_validate(broadcast=new_broadcast(button_text="Go"))


def test_the_database_refuses_a_second_running_broadcast(api, bulk_users):
    bulk_users(2)
    services.broadcast_start(broadcast=new_broadcast())
    other = new_broadcast()
    with pytest.raises(IntegrityError), transaction.atomic():
        Broadcast.objects.filter(pk=other.pk).update(status=BroadcastStatus.RUNNING)
    assert Broadcast.objects.filter(status=BroadcastStatus.RUNNING).count() == 1


def test_two_operators_starting_at_the_same_moment_get_the_already_running_error(api, bulk_users, monkeypatch):
    bulk_users(2)
    services.broadcast_start(broadcast=new_broadcast())
    # The second operator's check ran before the first start committed: only the constraint is left to refuse.
    monkeypatch.setattr(services, "_refuse_second_running", lambda broadcast: None)
    second = new_broadcast()
    with pytest.raises(BroadcastAlreadyRunning):
        services.broadcast_start(broadcast=second)
    second.refresh_from_db()
    assert second.status == BroadcastStatus.DRAFT and not second.recipients.exists()

    paused = new_broadcast(status=BroadcastStatus.PAUSED)
    with pytest.raises(BroadcastAlreadyRunning):
        services.broadcast_resume(broadcast=paused)
    paused.refresh_from_db()
    assert paused.status == BroadcastStatus.PAUSED


def _deliver_until_something_is_sent(broadcast, *, batches: int) -> None:
    """Send ``batches`` batches, more if none of their rows went out (a worker too late for its turns sends
    nothing, and its rows wait for the next batch)."""
    for _ in range(100):
        tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, max_batches=batches)
        if selectors.broadcast_progress(broadcast=broadcast).sent:
            return
    raise AssertionError("100 batches and nothing sent")


def test_pause_stops_between_batches_and_resume_continues(api, bulk_users, settings,
                                                        django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 10
    bulk_users(35)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    _deliver_until_something_is_sent(broadcast, batches=2)
    services.broadcast_pause(broadcast=broadcast)
    sent_before = len(api.calls_of("sendMessage"))

    assert tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk) == {"batches": 0, "sent": 0}
    progress = selectors.broadcast_progress(broadcast=broadcast)
    assert 0 < sent_before == progress.sent and progress.left == 35 - sent_before
    assert len(api.calls_of("sendMessage")) == sent_before

    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_resume(broadcast=broadcast)
    assert selectors.broadcast_progress(broadcast=broadcast) == Progress(35, 35, 0, 0, 0)
    assert set(deliveries_per_chat(api).values()) == {1}


def test_cancel_leaves_the_rest_unsent(api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 10
    bulk_users(30)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    _deliver_until_something_is_sent(broadcast, batches=1)
    services.broadcast_cancel(broadcast=broadcast)
    sent = len(api.calls_of("sendMessage"))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)
    assert 0 < len(api.calls_of("sendMessage")) == sent <= 10
    assert selectors.broadcast_progress(broadcast=broadcast).left == 30 - sent
    with pytest.raises(BroadcastStateError):
        services.broadcast_resume(broadcast=broadcast)
