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
