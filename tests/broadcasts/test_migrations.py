"""Broadcasts moved out of ``botworker``: the migrations touch no table (either way), and what named the old app
follows — delivery links queued by the previous release still run, operators keep the permissions granted on
broadcasts."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from broadcasts import tasks
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from tests.broadcasts.helpers import deliveries_per_chat, recipient_statuses, run_one_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def previous_release():
    """The database as the previous release left it (the broadcasts in botworker's state); migrated again after."""
    call_command("migrate", "broadcasts", "zero", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", verbosity=0)
        ContentType.objects.clear_cache()


def _running_broadcast(bulk_users, n: int) -> Broadcast:
    """Started by hand (rows pending, no delivery link yet), as the previous release would have left it."""
    bulk_users(n)
    broadcast = Broadcast.objects.create(title="t", text="Новость", status=BroadcastStatus.RUNNING)
    BroadcastRecipient.objects.bulk_create(
        [BroadcastRecipient(broadcast=broadcast, user=u, telegram_id=u.telegram_id) for u in User.objects.all()])
    return broadcast


def _rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def test_the_migrations_keep_the_tables_and_their_rows_both_ways(bulk_users):
    broadcast = _running_broadcast(bulk_users, 3)
    call_command("migrate", "broadcasts", "zero", verbosity=0)
    try:
        assert (_rows("bot_broadcasts"), _rows("bot_broadcast_recipients")) == (1, 3)
    finally:
        call_command("migrate", verbosity=0)
    assert Broadcast.objects.get().recipients.count() == 3 and recipient_statuses(broadcast) == {"pending": 3}
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_delivery_link_queued_by_the_previous_release_runs_after_the_upgrade(
        previous_release, database_tasks, api, bulk_users, settings):
    settings.BROADCAST_RATE_PER_SECOND = 1000
    broadcast = _running_broadcast(bulk_users, 4)
    link = tasks.broadcast_deliver.enqueue(broadcast_id=broadcast.pk)
    # The path the previous release queued it under.
    DBTaskResult.objects.filter(pk=link.id).update(task_path="botworker.tasks.broadcast_deliver")

    call_command("migrate", verbosity=0)
    run_one_task()
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED
    assert recipient_statuses(broadcast) == {RecipientStatus.SENT: 4}
    assert set(deliveries_per_chat(api).values()) == {1}


def test_operators_keep_the_permissions_granted_on_broadcasts(previous_release, django_user_model):
    ContentType.objects.clear_cache()
    granted = Permission.objects.get(content_type__app_label="botworker", codename="change_broadcast")
    group = Group.objects.create(name="Broadcast editors")
    group.permissions.add(granted)
    operator = django_user_model.objects.create_user("editor", password="pw", is_staff=True)
    operator.groups.add(group)

    call_command("migrate", verbosity=0)
    ContentType.objects.clear_cache()
    operator = django_user_model.objects.get(pk=operator.pk)  # a fresh permission cache
    assert operator.has_perm("broadcasts.change_broadcast")
    assert not ContentType.objects.filter(app_label="botworker", model__startswith="broadcast").exists()
