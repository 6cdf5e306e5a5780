"""The timer's entry point enqueues each periodic task once, without piling up copies."""

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from botworker.periodic import PERIODIC_TASKS

pytestmark = pytest.mark.django_db


def test_each_periodic_task_is_enqueued_once_and_not_again_while_it_waits(database_tasks, capsys):
    call_command("enqueue_periodic")
    assert DBTaskResult.objects.count() == len(PERIODIC_TASKS)
    call_command("enqueue_periodic")  # the workers have not run anything yet
    assert DBTaskResult.objects.count() == len(PERIODIC_TASKS)
    assert "already queued" in capsys.readouterr().out


def test_hourly_tasks_wait_for_their_interval_the_others_run_every_time(database_tasks):
    call_command("enqueue_periodic")
    DBTaskResult.objects.update(status="SUCCESSFUL")  # as if a worker ran them all
    call_command("enqueue_periodic")
    hourly = [path for path, interval in PERIODIC_TASKS if interval]
    every_time = [path for path, interval in PERIODIC_TASKS if not interval]
    for path in every_time:
        assert DBTaskResult.objects.filter(task_path=path).count() == 2
    for path in hourly:
        assert DBTaskResult.objects.filter(task_path=path).count() == 1


def test_every_periodic_task_runs_on_an_empty_system(api, settings):
    from django.utils.module_loading import import_string

    from tests.support.botapi import TOKEN

    settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, api.base_url
    for path, _ in PERIODIC_TASKS:
        import_string(path).call()  # what a worker does; raises if the task fails
    assert api.calls_of("getStarTransactions")  # the reconciliation asked Telegram
