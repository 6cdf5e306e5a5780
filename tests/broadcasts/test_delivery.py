"""Broadcast delivery against the fake Bot API: once per user, blocked users marked, the rate held, several workers
sharing the schedule, rows of a dead worker failed and never resent."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from broadcasts import delivery, selectors, services, tasks
from broadcasts.models import BroadcastRecipient, BroadcastStatus, RecipientStatus
from broadcasts.sender import send_batch
from broadcasts.types import Progress
from tests.broadcasts.helpers import deliveries_per_chat, new_broadcast, recipient_statuses, sent_moments
from tests.support.rates import max_in_any_second


def test_thousands_get_the_broadcast_exactly_once_through_429s_blocks_and_a_worker_crash(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 1500
    settings.BROADCAST_BATCH_SIZE = 100
    users = bulk_users(2500)
    blocked_before = bulk_users(20, bot_blocked_at=timezone.now())
    blocking_now = users[::100]  # 25 users who blocked the bot since: Telegram answers 403
    for user in blocking_now:
        api.block_user(user.telegram_id)
    api.fail("sendMessage", 429, retry_after=1, times=3)
    broadcast = new_broadcast(button_text="Открыть", button_url="https://example.com/news")

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        services.broadcast_start(broadcast=broadcast, started_by="op")
    assert len(enqueued) == 1  # delivery is enqueued only once the rows are committed
    assert BroadcastRecipient.objects.filter(broadcast=broadcast).count() == 2520

    tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, max_batches=8)
    # A worker dies after sending a batch and before recording it: its rows stay "sending".
    crashed = delivery.broadcast_claim_batch(broadcast_id=broadcast.pk)
    sent_before_crash = {o.telegram_id for o in send_batch(crashed).outcomes if o.status == RecipientStatus.SENT}
    assert recipient_statuses(broadcast)[RecipientStatus.SENDING] == 100

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.broadcast_resume_running(older_than=timedelta(0)) == [broadcast.pk]

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED
    delivered = deliveries_per_chat(api)
    assert set(delivered.values()) == {1}, "somebody got the broadcast twice"
    crashed_ids = {t.telegram_id for t in crashed.targets}
    blocked_ids = {u.telegram_id for u in blocking_now}
    assert set(delivered) == ({u.telegram_id for u in users} - crashed_ids - blocked_ids) | sent_before_crash
    assert recipient_statuses(broadcast) == {RecipientStatus.SENT: 2500 - 100 - len(blocked_ids - crashed_ids),
                                    RecipientStatus.FAILED: 100,
                                    RecipientStatus.BLOCKED: 20 + len(blocked_ids - crashed_ids)}
    interrupted = BroadcastRecipient.objects.filter(broadcast=broadcast, status=RecipientStatus.FAILED)
    assert set(interrupted.values_list("error", flat=True)) == {delivery.INTERRUPTED}
    assert crashed_ids == set(interrupted.values_list("telegram_id", flat=True))
    marked = User.objects.filter(pk__in=[u.pk for u in blocking_now], bot_blocked_at__isnull=False).count()
    assert marked == len(blocked_ids - crashed_ids)  # the crashed worker never recorded its 403s
    assert not {u.telegram_id for u in blocked_before} & {int(c.data["chat_id"]) for c in api.calls if "chat_id" in c.data}
    assert len([c for c in api.calls_of("sendMessage") if c.status == 429]) == 3
    first = api.calls_of("sendMessage")[0]
    assert first.json("reply_markup") == {"inline_keyboard": [[{"text": "Открыть",
                                                               "url": "https://example.com/news"}]]}
    assert first.data["parse_mode"] == "HTML" and first.text == "<b>Новое</b> в боте"
    assert max_in_any_second(sent_moments(broadcast)) <= 1500


def test_delivery_holds_thirty_messages_a_second_and_waits_out_retry_after(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    assert settings.BROADCAST_RATE_PER_SECOND == 30
    settings.BROADCAST_BATCH_SIZE = 20
    bulk_users(75)
    broadcast = new_broadcast()
    seen = []
    api.fail("sendMessage", 429, retry_after=1, times=1, when=lambda d: seen.append(d) or len(seen) > 40)

    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)

    calls = api.calls_of("sendMessage")
    assert len([c for c in calls if c.status == 200]) == 75 and len([c for c in calls if c.status == 429]) == 1
    moments = sent_moments(broadcast)
    assert len(moments) == 75 and max_in_any_second(moments) <= 30
    # Every send let go after the 429 was read waits out retry_after (sends let go before it may still come in
    # after it at the server): the schedule pauses for a whole second once.
    assert max((b - a).total_seconds() for a, b in zip(moments, moments[1:])) >= 0.99


def test_a_fresh_sending_row_is_left_to_its_worker_and_a_stale_one_fails(api, bulk_users):
    bulk_users(3)
    broadcast = new_broadcast()
    services.broadcast_start(broadcast=broadcast)
    claim = delivery.broadcast_claim_batch(broadcast_id=broadcast.pk)
    assert delivery.broadcast_fail_interrupted(broadcast_id=broadcast.pk) == 0  # maybe still being sent
    assert not delivery.broadcast_finish_if_done(broadcast_id=broadcast.pk)
    BroadcastRecipient.objects.filter(pk=claim.targets[0].recipient_id).update(
        updated_at=timezone.now() - timedelta(hours=1))
    assert delivery.broadcast_fail_interrupted(broadcast_id=broadcast.pk) == 1
    assert api.calls_of("sendMessage") == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_workers_share_a_broadcast_without_duplicates_and_within_the_rate(api, bulk_users, settings):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 25
    bulk_users(600)
    # Started by hand: broadcast_start would run the delivery at once here (tasks run immediately in tests).
    broadcast = new_broadcast(status=BroadcastStatus.RUNNING)
    BroadcastRecipient.objects.bulk_create(
        [BroadcastRecipient(broadcast=broadcast, user=u, telegram_id=u.telegram_id) for u in User.objects.all()])

    def worker():
        try:
            tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert delivery.broadcast_finish_if_done(broadcast_id=broadcast.pk)
    delivered = deliveries_per_chat(api)
    assert len(delivered) == 600 and set(delivered.values()) == {1}
    # Without the shared schedule three workers would send ~570/s; with it they stay under the one limit.
    assert max_in_any_second(sent_moments(broadcast)) <= 200
    assert recipient_statuses(broadcast) == {RecipientStatus.SENT: 600}


def test_the_resume_command_fails_interrupted_rows_and_restarts_delivery(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    settings.BROADCAST_RATE_PER_SECOND = 1000
    settings.BROADCAST_BATCH_SIZE = 5
    bulk_users(12)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    delivery.broadcast_claim_batch(broadcast_id=broadcast.pk)  # a worker died holding these 5
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_broadcasts", "--stale-after", "0", stdout=out)
    assert f"Resumed 1 running broadcast(s): {broadcast.pk}." in out.getvalue()
    assert selectors.broadcast_progress(broadcast=broadcast) == Progress(12, 7, 5, 0, 0)
    assert len(api.calls_of("sendMessage")) == 7


def test_rows_whose_turn_falls_after_the_slot_go_back_to_pending_unattempted(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 20
    settings.BROADCAST_BATCH_SIZE = 10  # a slot of half a second: retry_after=1 pushes the rest out of it
    bulk_users(10)
    broadcast = new_broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        services.broadcast_start(broadcast=broadcast)
    api.fail("sendMessage", 429, retry_after=1)
    for _ in range(100):
        began = timezone.now()
        result = send_batch(delivery.broadcast_claim_batch(broadcast_id=broadcast.pk))
        if api.calls_of("sendMessage"):
            break
        delivery.broadcast_record_batch(broadcast_id=broadcast.pk, result=result)  # too late for every turn
    outcome = Counter(o.status for o in result.outcomes)
    assert outcome[RecipientStatus.PENDING] >= 1 and set(outcome) <= {RecipientStatus.SENT, RecipientStatus.PENDING}
    assert len(api.calls_of("sendMessage")) == outcome[RecipientStatus.SENT] + 1  # the deferred were not tried

    delivery.broadcast_record_batch(broadcast_id=broadcast.pk, result=result)
    assert recipient_statuses(broadcast)[RecipientStatus.PENDING] == outcome[RecipientStatus.PENDING]
    broadcast.refresh_from_db()
    assert broadcast.next_slot_at >= began + timedelta(seconds=0.99)  # everyone waits out retry_after
