"""Photo broadcasts: the photo is uploaded once and its file_id reused; a photo that cannot be read or that Telegram
refuses pauses the broadcast instead of failing everyone."""

from broadcasts import services
from broadcasts.models import BroadcastStatus, RecipientStatus
from tests.broadcasts.helpers import new_broadcast, recipient_statuses


def test_a_photo_broadcast_uploads_the_photo_once_then_reuses_its_file_id(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(5)
    broadcast = new_broadcast(text="Смотрите!")
    broadcast.photo.save("news.png", ContentFile(b"\x89PNG fake"), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    photos = api.calls_of("sendPhoto")
    assert len(photos) == 5 and all(c.data["caption"] == "Смотрите!" for c in photos)
    assert len(photos[0].files) == 1  # uploaded once
    assert all(not c.files and c.data["photo"].startswith("sent-") for c in photos[1:])


def test_a_photo_is_uploaded_again_only_until_one_send_succeeds(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    users = bulk_users(4)
    api.block_user(users[0].telegram_id)
    broadcast = new_broadcast(text="Фото")
    broadcast.photo.save("p.png", ContentFile(b"\x89PNG fake"), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)
    photos = api.calls_of("sendPhoto")
    uploads = [c for c in photos if c.files]
    # The blocked user's attempt, then the first success (the order of turns may differ on a busy machine: a
    # turn given up goes to a later batch): every upload before the last failed, and then the file_id is reused.
    assert 1 <= len(uploads) <= 2 and uploads[-1].status == 200 and all(c.status != 200 for c in uploads[:-1])
    assert all(c.data["photo"].startswith("sent-") for c in photos if not c.files)
    assert recipient_statuses(broadcast) == {RecipientStatus.SENT: 3, RecipientStatus.BLOCKED: 1}


def _photo_broadcast(settings, bulk_users, n=5):
    from django.core.files.base import ContentFile

    settings.BROADCAST_RATE_PER_SECOND = 1000
    bulk_users(n)
    broadcast = new_broadcast(text="Фото")
    broadcast.photo.save("lost.png", ContentFile(b"\x89PNG fake"), save=True)
    return broadcast


def _recipients(broadcast) -> set:
    from broadcasts.models import BroadcastRecipient

    return set(BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status", "attempts", "error"))


def test_a_photo_missing_from_storage_pauses_the_broadcast_and_fails_nobody(
        api, bulk_users, settings, admin_client, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    broadcast = _photo_broadcast(settings, bulk_users)
    default_storage.delete(broadcast.photo.name)
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)  # the delivery task runs at once in tests

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED
    assert "cannot be read" in broadcast.last_error and broadcast.photo.name in broadcast.last_error
    assert _recipients(broadcast) == {("pending", 0, "")}  # as if never claimed: not failed, not interrupted
    assert [c.method for c in api.calls] == ["getMe"]  # the start's bot check; nothing sent
    page = admin_client.get(f"/admin/broadcasts/broadcast/{broadcast.pk}/change/").content.decode()
    assert "cannot be read" in page


def test_telegram_refusing_the_photo_pauses_the_broadcast_instead_of_failing_everyone(
        api, bulk_users, settings, django_capture_on_commit_callbacks):
    broadcast = _photo_broadcast(settings, bulk_users)
    api.fail("sendPhoto", 400, times=1, description="Bad Request: IMAGE_PROCESS_FAILED")
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_start(broadcast=broadcast)

    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.PAUSED and "IMAGE_PROCESS_FAILED" in broadcast.last_error
    assert _recipients(broadcast) == {("pending", 0, "")}
    assert len(api.calls_of("sendPhoto")) == 1  # nobody else was tried

    with django_capture_on_commit_callbacks(execute=True):  # the operator fixed the photo and resumes
        services.broadcast_resume(broadcast=broadcast)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.COMPLETED and broadcast.last_error == ""
    assert {status for status, _, _ in _recipients(broadcast)} == {"sent"}
