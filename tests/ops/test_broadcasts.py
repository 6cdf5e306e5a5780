"""Broadcast delivery against the fake Bot API: once per user, blocked users marked, the rate held, resumable."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone, translation

from accounts.models import User
from billing.services import balance_credit
from botworker import broadcasts, tasks
from botworker.broadcast_sender import send_batch
from botworker.models import Broadcast, BroadcastAudience, BroadcastRecipient, BroadcastStatus, RecipientStatus
from tests.support.rates import max_in_any_second


def _broadcast(**fields) -> Broadcast:
    fields.setdefault("title", "News")
    fields.setdefault("text", "<b>Новое</b> в боте")
    return Broadcast.objects.create(**fields)


def _delivered(api) -> Counter:
    """How many times each chat got the message (answered 200 by Telegram)."""
    return Counter(int(c.data["chat_id"]) for c in api.calls_of("sendMessage") if c.status == 200)


def _statuses(broadcast) -> Counter:
    return Counter(BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status", flat=True))


def _sent_moments(broadcast) -> list:
    """When the limiter let each delivered message go (``sent_at``), in order. The rate tests count these rather
    than arrivals at the fake server: a busy test process receives requests in bunches, but these moments are
    where the schedule put the sends, so they hold the rate on any machine."""
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast, status=RecipientStatus.SENT)
    return sorted(rows.values_list("sent_at", flat=True))


def _deliver_until_something_is_sent(broadcast, *, batches: int) -> None:
    """Send ``batches`` batches, more if none of their rows went out (a worker too late for its turns sends
    nothing, and its rows wait for the next batch)."""
    for _ in range(100):
        tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, max_batches=batches)
        if broadcasts.broadcast_progress(broadcast=broadcast).sent:
            return
    raise AssertionError("100 batches and nothing sent")


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
    broadcast = _broadcast(button_text="Открыть", button_url="https://example.com/news")

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        broadcasts.broadcast_start(broadcast=broadcast, started_by="op")
    assert len(enqueued) == 1  # delivery is enqueued only once the rows are committed
    assert BroadcastRecipient.objects.filter(broadcast=broadcast).count() == 2520

    tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, max_batches=8)
    # A worker dies after sending a batch and before recording it: its rows stay "sending".
    crashed = broadcasts.broadcast_claim_batch(broadcast_id=broadcast.pk)
    sent_before_crash = {o.telegram_id for o in send_batch(crashed).outcomes if o.status == RecipientStatus.SENT}
    assert _statuses(broadcast)[RecipientStatus.SENDING] == 100

    with django_capture_on_commit_callbacks(execute=True):
        assert broadcasts.broadcast_resume_running(older_than=timedelta(0)) == [broadcast.pk]

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED
    delivered = _delivered(api)
    assert set(delivered.values()) == {1}, "somebody got the broadcast twice"
    crashed_ids = {t.telegram_id for t in crashed.targets}
    blocked_ids = {u.telegram_id for u in blocking_now}
    assert set(delivered) == ({u.telegram_id for u in users} - crashed_ids - blocked_ids) | sent_before_crash
    assert _statuses(broadcast) == {RecipientStatus.SENT: 2500 - 100 - len(blocked_ids - crashed_ids),
                                    RecipientStatus.FAILED: 100,
                                    RecipientStatus.BLOCKED: 20 + len(blocked_ids - crashed_ids)}
    interrupted = BroadcastRecipient.objects.filter(broadcast=broadcast, status=RecipientStatus.FAILED)
    assert set(interrupted.values_list("error", flat=True)) == {broadcasts.INTERRUPTED}
    assert crashed_ids == set(interrupted.values_list("telegram_id", flat=True))
    marked = User.objects.filter(pk__in=[u.pk for u in blocking_now], bot_blocked_at__isnull=False).count()
    assert marked == len(blocked_ids - crashed_ids)  # the crashed worker never recorded its 403s
    assert not {u.telegram_id for u in blocked_before} & {int(c.data["chat_id"]) for c in api.calls}
    assert len([c for c in api.calls_of("sendMessage") if c.status == 429]) == 3
    first = api.calls_of("sendMessage")[0]
    assert first.json("reply_markup") == {"inline_keyboard": [[{"text": "Открыть",
                                                               "url": "https://example.com/news"}]]}
    assert first.data["parse_mode"] == "HTML" and first.text == "<b>Новое</b> в боте"
    assert max_in_any_second(_sent_moments(broadcast)) <= 1500


def test_delivery_holds_thirty_messages_a_second_and_waits_out_retry_after(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    assert settings.BROADCAST_RATE_PER_SECOND == 30
    settings.BROADCAST_BATCH_SIZE = 20
    bulk_users(75)
    broadcast = _broadcast()
    seen = []
    api.fail("sendMessage", 429, retry_after=1, times=1, when=lambda d: seen.append(d) or len(seen) > 40)

    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)

    calls = api.calls_of("sendMessage")
    assert len([c for c in calls if c.status == 200]) == 75 and len([c for c in calls if c.status == 429]) == 1
    moments = _sent_moments(broadcast)
    assert len(moments) == 75 and max_in_any_second(moments) <= 30
    # Every send let go after the 429 was read waits out retry_after (sends let go before it may still come in
    # after it at the server): the schedule pauses for a whole second once.
    assert max((b - a).total_seconds() for a, b in zip(moments, moments[1:])) >= 0.99


def test_pause_stops_between_batches_and_resume_continues(api, bulk_users, settings,
                                                        django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 10
    bulk_users(35)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_start(broadcast=broadcast)
    _deliver_until_something_is_sent(broadcast, batches=2)
    broadcasts.broadcast_pause(broadcast=broadcast)
    sent_before = len(api.calls_of("sendMessage"))

    assert tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk) == {"batches": 0, "sent": 0}
    progress = broadcasts.broadcast_progress(broadcast=broadcast)
    assert 0 < sent_before == progress.sent and progress.left == 35 - sent_before
    assert len(api.calls_of("sendMessage")) == sent_before

    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_resume(broadcast=broadcast)
    assert broadcasts.broadcast_progress(broadcast=broadcast) == broadcasts.Progress(35, 35, 0, 0, 0)
    assert set(_delivered(api).values()) == {1}


def test_cancel_leaves_the_rest_unsent(api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 10
    bulk_users(30)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_start(broadcast=broadcast)
    _deliver_until_something_is_sent(broadcast, batches=1)
    broadcasts.broadcast_cancel(broadcast=broadcast)
    sent = len(api.calls_of("sendMessage"))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)
    assert 0 < len(api.calls_of("sendMessage")) == sent <= 10
    assert broadcasts.broadcast_progress(broadcast=broadcast).left == 30 - sent
    with pytest.raises(broadcasts.BroadcastStateError):
        broadcasts.broadcast_resume(broadcast=broadcast)


def test_a_fresh_sending_row_is_left_to_its_worker_and_a_stale_one_fails(api, bulk_users):
    bulk_users(3)
    broadcast = _broadcast()
    broadcasts.broadcast_start(broadcast=broadcast)
    claim = broadcasts.broadcast_claim_batch(broadcast_id=broadcast.pk)
    assert broadcasts.broadcast_fail_interrupted(broadcast_id=broadcast.pk) == 0  # maybe still being sent
    assert not broadcasts.broadcast_finish_if_done(broadcast_id=broadcast.pk)
    BroadcastRecipient.objects.filter(pk=claim.targets[0].recipient_id).update(
        updated_at=timezone.now() - timedelta(hours=1))
    assert broadcasts.broadcast_fail_interrupted(broadcast_id=broadcast.pk) == 1
    assert api.calls_of("sendMessage") == []


def test_audiences_pick_the_right_users(db, bulk_users, make_user):
    old = timezone.now() - timedelta(days=40)
    premium = bulk_users(2, is_premium=True, last_activity_at=timezone.now())
    idle = bulk_users(3, last_activity_at=old)
    rich = make_user()
    balance_credit(user=rich, amount="10")
    bulk_users(1, is_blocked=True, is_premium=True)  # blocked by an operator: never messaged
    bulk_users(1, is_bot=True)

    def audience(**fields):
        return set(broadcasts.broadcast_audience(broadcast=Broadcast(title="t", text="x", **fields)))

    assert audience(audience=BroadcastAudience.PREMIUM) == set(premium)
    assert audience(audience=BroadcastAudience.WITH_BALANCE) == {rich}
    assert audience(audience=BroadcastAudience.INACTIVE, inactive_days=30) == set(idle)
    ids = f"{premium[0].telegram_id}, {rich.telegram_id}\n999"
    assert audience(audience=BroadcastAudience.TELEGRAM_IDS, telegram_ids=ids) == {premium[0], rich}
    assert len(audience(audience=BroadcastAudience.ALL)) == 6
    with pytest.raises(broadcasts.BroadcastInvalid):
        audience(audience=BroadcastAudience.TELEGRAM_IDS, telegram_ids="12 abc")
    with pytest.raises(broadcasts.BroadcastInvalid):
        audience(audience=BroadcastAudience.INACTIVE)


def test_only_one_broadcast_runs_at_a_time_and_an_empty_audience_is_refused(db, bulk_users):
    bulk_users(2)
    first = broadcasts.broadcast_start(broadcast=_broadcast())
    with pytest.raises(broadcasts.BroadcastAlreadyRunning):
        broadcasts.broadcast_start(broadcast=_broadcast())
    broadcasts.broadcast_cancel(broadcast=first)
    with pytest.raises(broadcasts.BroadcastInvalid):
        broadcasts.broadcast_start(broadcast=_broadcast(audience=BroadcastAudience.PREMIUM))
    with pytest.raises(broadcasts.BroadcastInvalid):
        broadcasts.broadcast_validate(broadcast=_broadcast(button_text="Go"))


def test_a_photo_broadcast_uploads_the_photo_once_then_reuses_its_file_id(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(5)
    broadcast = _broadcast(text="Смотрите!")
    broadcast.photo.save("news.png", ContentFile(b"\x89PNG fake"), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)
    photos = api.calls_of("sendPhoto")
    assert len(photos) == 5 and all(c.data["caption"] == "Смотрите!" for c in photos)
    assert len(photos[0].files) == 1  # uploaded once
    assert all(not c.files and c.data["photo"].startswith("sent-") for c in photos[1:])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_workers_share_a_broadcast_without_duplicates_and_within_the_rate(api, bulk_users, settings):
    settings.BROADCAST_RATE_PER_SECOND = 200
    settings.BROADCAST_BATCH_SIZE = 25
    bulk_users(600)
    # Started by hand: broadcast_start would run the delivery at once here (tasks run immediately in tests).
    broadcast = _broadcast(status=BroadcastStatus.RUNNING)
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
    assert broadcasts.broadcast_finish_if_done(broadcast_id=broadcast.pk)
    delivered = _delivered(api)
    assert len(delivered) == 600 and set(delivered.values()) == {1}
    # Without the shared schedule three workers would send ~570/s; with it they stay under the one limit.
    assert max_in_any_second(_sent_moments(broadcast)) <= 200
    assert _statuses(broadcast) == {RecipientStatus.SENT: 600}


def test_the_resume_command_fails_interrupted_rows_and_restarts_delivery(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    settings.BROADCAST_RATE_PER_SECOND = 1000
    settings.BROADCAST_BATCH_SIZE = 5
    bulk_users(12)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_start(broadcast=broadcast)
    broadcasts.broadcast_claim_batch(broadcast_id=broadcast.pk)  # a worker died holding these 5
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_broadcasts", "--stale-after", "0", stdout=out)
    assert f"Resumed 1 running broadcast(s): {broadcast.pk}." in out.getvalue()
    assert broadcasts.broadcast_progress(broadcast=broadcast) == broadcasts.Progress(12, 7, 5, 0, 0)
    assert len(api.calls_of("sendMessage")) == 7


def test_rows_whose_turn_falls_after_the_slot_go_back_to_pending_unattempted(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 20
    settings.BROADCAST_BATCH_SIZE = 10  # a slot of half a second: retry_after=1 pushes the rest out of it
    bulk_users(10)
    broadcast = _broadcast()
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_start(broadcast=broadcast)
    api.fail("sendMessage", 429, retry_after=1)
    for _ in range(100):
        began = timezone.now()
        result = send_batch(broadcasts.broadcast_claim_batch(broadcast_id=broadcast.pk))
        if api.calls_of("sendMessage"):
            break
        broadcasts.broadcast_record_batch(broadcast_id=broadcast.pk, result=result)  # too late for every turn
    outcome = Counter(o.status for o in result.outcomes)
    assert outcome[RecipientStatus.PENDING] >= 1 and set(outcome) <= {RecipientStatus.SENT, RecipientStatus.PENDING}
    assert len(api.calls_of("sendMessage")) == outcome[RecipientStatus.SENT] + 1  # the deferred were not tried

    broadcasts.broadcast_record_batch(broadcast_id=broadcast.pk, result=result)
    assert _statuses(broadcast)[RecipientStatus.PENDING] == outcome[RecipientStatus.PENDING]
    broadcast.refresh_from_db()
    assert broadcast.next_slot_at >= began + timedelta(seconds=0.99)  # everyone waits out retry_after


def test_a_photo_is_uploaded_again_only_until_one_send_succeeds(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    users = bulk_users(4)
    api.block_user(users[0].telegram_id)
    broadcast = _broadcast(text="Фото")
    broadcast.photo.save("p.png", ContentFile(b"\x89PNG fake"), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_start(broadcast=broadcast)
    photos = api.calls_of("sendPhoto")
    uploads = [c for c in photos if c.files]
    # The blocked user's attempt, then the first success (the order of turns may differ on a busy machine: a
    # turn given up goes to a later batch): every upload before the last failed, and then the file_id is reused.
    assert 1 <= len(uploads) <= 2 and uploads[-1].status == 200 and all(c.status != 200 for c in uploads[:-1])
    assert all(c.data["photo"].startswith("sent-") for c in photos if not c.files)
    assert _statuses(broadcast) == {RecipientStatus.SENT: 3, RecipientStatus.BLOCKED: 1}


@pytest.mark.parametrize("text, problem", [
    ("<b>bold</i>", "</i> does not close the last open tag"),
    ("<div>block</div>", "<div> is not supported by Telegram"),
    ("line<br/>break", "<br/> is not supported"),
    ("<b>open", "<b> is never closed"),
])
def test_text_that_telegram_would_refuse_is_refused_before_sending(db, text, problem):
    with translation.override("en"), pytest.raises(broadcasts.BroadcastInvalid, match=problem):
        broadcasts.broadcast_validate(broadcast=Broadcast(title="t", text=text))


def test_telegram_html_with_links_spoilers_and_entities_is_accepted(db):
    text = ('<b>Bold</b> <i>it</i> <a href="https://t.me/x?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
            '<span class="tg-spoiler">s</span> <code>x &lt; y</code> <pre><code class="language-py">1</code></pre> '
            '<blockquote>q</blockquote>')
    broadcasts.broadcast_validate(broadcast=Broadcast(title="t", text=text))
