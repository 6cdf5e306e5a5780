"""Operator alerts: a Telegram message through the bot to every id in ADMIN_IDS, as a task once the caller's
transaction commits; the same alert not repeated within its window, at most so many an hour, switched off by a
setting. Sent when a broadcast pauses on an error, a payment is flagged, and the task queue backs up."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult

from broadcasts import services as broadcast_services
from broadcasts import tasks as broadcast_tasks
from broadcasts.models import Broadcast, BroadcastStatus
from common.alerts import operator_alert
from common.task_queue import task_queue_check_backlog
from common.tasks import operator_alert_send
from payments.services.credit import stars_payment_flag
from tests.support.workers import database_tasks  # noqa: F401

ADMINS = [5001, 5002]


@pytest.fixture
def alerts_on(api, settings, db):
    settings.ADMIN_IDS = ADMINS
    settings.OPERATOR_ALERTS_ENABLED = True
    settings.OPERATOR_ALERTS_DEDUP_SECONDS = 3600
    settings.OPERATOR_ALERTS_PER_HOUR = 20
    with translation.override("ru"):  # the workers' language (LANGUAGE_CODE), whatever an earlier test left
        yield api


def _alerts(api) -> list[tuple[int, str]]:
    return [(int(c.data["chat_id"]), c.text) for c in api.calls_of("sendMessage")]


def test_an_alert_goes_to_every_operator_once_its_transaction_commits(alerts_on, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        operator_alert(key="k1", text="Рассылка приостановлена")
        assert _alerts(alerts_on) == []  # nothing before the commit
    assert len(callbacks) == 1
    assert _alerts(alerts_on) == [(5001, "Рассылка приостановлена"), (5002, "Рассылка приостановлена")]


def test_a_rolled_back_change_alerts_nobody(alerts_on):
    with pytest.raises(RuntimeError), transaction.atomic():
        operator_alert(key="k1", text="never")
        raise RuntimeError
    assert _alerts(alerts_on) == []


def test_the_same_alert_is_not_repeated_within_its_window_and_the_hourly_limit_holds(
        alerts_on, settings, django_capture_on_commit_callbacks):
    settings.OPERATOR_ALERTS_PER_HOUR = 3
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            operator_alert(key="same", text="one")
    assert len(_alerts(alerts_on)) == 2  # one alert, two operators
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            operator_alert(key=f"other-{n}", text=f"other {n}")
    assert [text for chat, text in _alerts(alerts_on) if chat == 5001] == ["one", "other 0", "other 1"]


def test_the_queue_backed_alerts_deduplicate_over_the_queue_rows(
        alerts_on, database_tasks, settings, django_capture_on_commit_callbacks):  # noqa: F811
    settings.OPERATOR_ALERTS_PER_HOUR = 2
    with django_capture_on_commit_callbacks(execute=True):
        for key in ("a", "a", "b", "c"):
            operator_alert(key=key, text=key)
    queued = DBTaskResult.objects.filter(task_path=operator_alert_send.module_path)
    assert sorted(r.args_kwargs["kwargs"]["key"] for r in queued) == ["a", "b"]
    queued.update(enqueued_at=timezone.now() - timedelta(hours=2))  # outside both windows now
    with django_capture_on_commit_callbacks(execute=True):
        operator_alert(key="a", text="a")
    assert queued.count() == 3


def test_a_setting_switches_the_alerts_off(alerts_on, settings, django_capture_on_commit_callbacks):
    settings.OPERATOR_ALERTS_ENABLED = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        operator_alert(key="k", text="t")
    assert callbacks == [] and _alerts(alerts_on) == []


def test_a_broadcast_paused_by_a_revoked_token_alerts_the_operators(
        alerts_on, settings, make_user, django_capture_on_commit_callbacks):
    make_user()
    broadcast = Broadcast.objects.create(title="News", text="hello")
    with django_capture_on_commit_callbacks(execute=False):
        broadcast_services.broadcast_start(broadcast=broadcast)
    token = settings.BOT_TOKEN
    settings.BOT_TOKEN = "123456789:revoked"
    with django_capture_on_commit_callbacks(execute=False) as alerts:
        broadcast_tasks.broadcast_deliver_batches(broadcast_id=broadcast.pk, seconds=5)
    assert Broadcast.objects.get().status == BroadcastStatus.PAUSED
    settings.BOT_TOKEN = token  # the alert goes through the bot once it is fixed (here: the fake's own token)
    for callback in alerts:
        callback()
    texts = {text for _, text in _alerts(alerts_on)}
    assert len(_alerts(alerts_on)) == 2
    assert texts == {f"Рассылка #{broadcast.pk} приостановлена: "
                     + Broadcast.objects.get().last_error.split(" ", 2)[2]}


def test_a_flagged_payment_alerts_the_operators_once(alerts_on, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            stars_payment_flag(telegram_payment_charge_id="ch-x", payer_telegram_id=77, payload="p",
                               currency="XTR", total_amount=5, reason="paid 5 XTR, the invoice's price is 150")
    assert len(_alerts(alerts_on)) == 2
    assert "ch-x" in _alerts(alerts_on)[0][1] and "оплачено 5 XTR" in _alerts(alerts_on)[0][1]


def test_a_backed_up_task_queue_alerts_the_operators(
        alerts_on, settings, database_tasks, django_capture_on_commit_callbacks):  # noqa: F811
    settings.TASK_QUEUE_BACKLOG_MINUTES = 10
    settings.TASK_QUEUE_BACKLOG_THRESHOLD = 2
    for _ in range(3):
        broadcast_tasks.broadcasts_resume_running.enqueue()
    waiting = DBTaskResult.objects.all()
    assert task_queue_check_backlog.call() == 0  # just enqueued: not waiting long
    waiting.update(enqueued_at=timezone.now() - timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):
        assert task_queue_check_backlog.call() == 3
    alert = DBTaskResult.objects.get(task_path=operator_alert_send.module_path)
    assert alert.priority == 100  # ahead of the tasks that wait
    assert "3" in alert.args_kwargs["kwargs"]["text"] and "db_worker" in alert.args_kwargs["kwargs"]["text"]
    operator_alert_send.call(**alert.args_kwargs["kwargs"])
    assert [chat for chat, _ in _alerts(alerts_on)] == ADMINS
