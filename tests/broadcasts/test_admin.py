"""The broadcast admin: compose, preview to yourself, start, watch progress, pause, resume, cancel."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from broadcasts.models import Broadcast, BroadcastStatus


@pytest.fixture
def operator(client, db):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456")
    client.force_login(user)
    return user


def _form(**overrides):
    data = {"title": "Весна", "text": "<b>Скидки</b> до пятницы", "button_text": "Открыть",
            "button_url": "https://example.com", "audience": "all", "inactive_days": "", "telegram_ids": "",
            "preview_chat_id": ""}
    data.update(overrides)
    return data


def test_an_operator_composes_previews_starts_and_sees_the_progress(
        client, operator, api, bulk_users, settings, django_capture_on_commit_callbacks):
    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(4)
    add = client.post(reverse("admin:broadcasts_broadcast_add"), _form(preview_chat_id="4242", _preview="1"))
    broadcast = Broadcast.objects.get()
    assert add.status_code == 302 and broadcast.created_by == "op"
    preview = api.wait_for("sendMessage")
    assert int(preview.data["chat_id"]) == 4242 and preview.text == "<b>Скидки</b> до пятницы"
    assert preview.buttons() == [{"text": "Открыть", "url": "https://example.com"}]

    change = reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(change, _form(_start="1"))
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.task_id
    page = client.get(change).content.decode()
    assert "4 sent · 0 failed · 0 blocked · 0 left (of 4)" in page
    assert reverse("admin:django_tasks_database_dbtaskresult_change", args=[broadcast.task_id]) in page
    listing = client.get(reverse("admin:broadcasts_broadcast_changelist")).content.decode()
    assert "Весна" in listing
    assert client.get(reverse("admin:broadcasts_broadcastrecipient_changelist")).status_code == 200


def test_a_running_broadcast_can_be_paused_resumed_and_cancelled_and_its_text_is_frozen(
        client, operator, api, bulk_users, django_capture_on_commit_callbacks):
    bulk_users(2)
    broadcast = Broadcast.objects.create(title="t", text="hello")
    change = reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
    with django_capture_on_commit_callbacks(execute=False):
        client.post(change, _form(_start="1"))
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.RUNNING
    page = client.get(change).content.decode()
    assert 'http-equiv="refresh"' in page and 'name="_pause"' in page and 'name="text"' not in page

    client.post(change, {"_pause": "1"})
    assert Broadcast.objects.get().status == BroadcastStatus.PAUSED
    with django_capture_on_commit_callbacks(execute=False):
        client.post(change, {"_resume": "1"})
    assert Broadcast.objects.get().status == BroadcastStatus.RUNNING
    client.post(change, {"_cancel": "1"})
    assert Broadcast.objects.get().status == BroadcastStatus.CANCELLED
    assert api.calls_of("sendMessage") == []


def test_a_broken_composition_is_refused_with_a_clear_error(client, operator, db):
    response = client.post(reverse("admin:broadcasts_broadcast_add"), _form(button_url=""))
    assert response.status_code == 200 and "A button needs both its text and its link." in response.content.decode()
    response = client.post(reverse("admin:broadcasts_broadcast_add"), _form(audience="inactive"))
    assert "Set the number of days" in response.content.decode()
    assert not Broadcast.objects.exists()


def test_starting_with_nobody_in_the_audience_says_so(client, operator, api):
    broadcast = Broadcast.objects.create(title="t", text="hello", audience="premium")
    change = reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
    page = client.post(change, _form(audience="premium", _start="1"), follow=True).content.decode()
    assert "Nobody matches the chosen audience." in page
    assert Broadcast.objects.get().status == BroadcastStatus.DRAFT


def test_starting_a_list_broadcast_names_the_ids_that_are_not_users(
        client, operator, api, bulk_users, django_capture_on_commit_callbacks):
    user = bulk_users(1)[0]
    broadcast = Broadcast.objects.create(title="t", text="hello", audience="telegram_ids",
                                         telegram_ids=f"{user.telegram_id} 12345")
    change = reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
    with django_capture_on_commit_callbacks(execute=False):
        page = client.post(change, _form(audience="telegram_ids", telegram_ids=f"{user.telegram_id} 12345",
                                         _start="1"), follow=True).content.decode()
    assert "Recipients: 1." in page
    assert "1 listed ids are not bot users (or are blocked) and get nothing: 12345" in page
