"""Avatars: photo upload rules, training charged once, completion or failure with a refund exactly once."""

from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from generations import fal, services
from generations.exceptions import InvalidState, NotEnoughPhotos, NotFound, PhotoRejected, ProviderUnavailable
from generations.models import Avatar, AvatarStatus
from tests.generations.conftest import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AVATAR_MIN_PHOTOS = 3
    settings.AVATAR_MAX_PHOTOS = 4
    settings.AVATAR_CREATION_COST = Decimal("150")


def avatar_with_photos(user, count=3, **kwargs):
    avatar = services.avatar_create(user=user, name="Аня", gender="female", **kwargs)
    for seed in range(count):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    avatar.refresh_from_db()
    return avatar


def poll_until_done(avatar, limit=10):
    for _ in range(limit):
        services.avatar_training_poll(avatar_id=avatar.pk)
        avatar.refresh_from_db()
        if avatar.status != AvatarStatus.TRAINING:
            return avatar
    return avatar


def test_photos_are_stored_through_the_storage_and_move_the_status(funded_user, media):
    user = funded_user()
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    assert avatar.status == AvatarStatus.DRAFT and avatar.trigger_phrase == f"TOK_{avatar.pk.hex[:8]}"
    photo, count = services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(1))
    assert count == 1 and (media / photo.file.name).read_bytes() == image_bytes(1)
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.PHOTOS_UPLOADING
    for seed in (2, 3):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.READY_FOR_TRAINING and avatar.photos_count == 3


def test_the_same_photo_twice_is_rejected_as_a_duplicate(funded_user, media):
    user = funded_user()
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(1))
    with pytest.raises(PhotoRejected) as exc:
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(1))
    assert exc.value.reason == "duplicate" and avatar.photos.count() == 1


def test_photos_beyond_the_maximum_are_refused_with_the_limit(funded_user, media):
    user = funded_user()
    avatar = avatar_with_photos(user, count=4)
    with pytest.raises(PhotoRejected) as exc:
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(9))
    assert exc.value.reason == "limit" and exc.value.params == {"limit": 4}


def test_a_removed_photo_lowers_the_count_and_the_status(funded_user, media):
    user = funded_user()
    avatar = avatar_with_photos(user, count=3)
    assert services.avatar_photo_delete(user=user, avatar_id=avatar.pk, photo_id=avatar.photos.first().pk) == 2
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.PHOTOS_UPLOADING


def test_another_users_avatar_is_not_found(funded_user, media):
    owner, stranger = funded_user(), funded_user()
    avatar = avatar_with_photos(owner)
    with pytest.raises(NotFound):
        services.avatar_photo_add(user=stranger, avatar_id=avatar.pk, content=image_bytes(7))
    with pytest.raises(NotFound):
        services.avatar_training_start(user=stranger, avatar_id=avatar.pk)
    with pytest.raises(NotFound):
        services.avatar_delete(user=stranger, avatar_id=avatar.pk)


def test_training_needs_the_minimum_of_photos(funded_user, fake_fal):
    user = funded_user()
    avatar = avatar_with_photos(user, count=2)
    with pytest.raises(NotEnoughPhotos):
        services.avatar_training_start(user=user, avatar_id=avatar.pk)
    assert balance_get(user=user) == Decimal("1000")


def test_training_is_charged_submitted_with_a_zip_and_completes_as_the_main_avatar(funded_user, fake_fal, bot_api):
    user = funded_user()
    avatar = avatar_with_photos(user)
    avatar = services.avatar_training_start(user=user, avatar_id=avatar.pk)
    assert balance_get(user=user) == Decimal("850")
    job = fake_fal.submitted(fal.PORTRAIT_TRAINER)[0]
    assert job.arguments["trigger_phrase"] == avatar.trigger_phrase
    assert job.arguments["images_data_url"].startswith(fake_fal.base_url)
    assert fake_fal.uploads[job.arguments["images_data_url"].rsplit("/", 1)[1]][:2] == b"PK"
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.TRAINING and avatar.fal_request_id == job.request_id
    avatar = poll_until_done(avatar)
    assert avatar.status == AvatarStatus.COMPLETED and avatar.is_main
    assert avatar.diffusers_lora_file_url.endswith(".safetensors")
    notice = bot_api.wait_for("sendMessage")
    assert "готов" in notice.text and int(notice.data["chat_id"]) == user.telegram_id


def test_a_double_start_charges_once(funded_user, fake_fal, bot_api):
    user = funded_user()
    avatar = avatar_with_photos(user)
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    with pytest.raises(InvalidState):
        services.avatar_training_start(user=user, avatar_id=avatar.pk)
    assert balance_get(user=user) == Decimal("850") and len(fake_fal.submitted()) == 1


def test_a_failed_training_is_refunded_exactly_once_and_the_user_is_told(funded_user, fake_fal, bot_api):
    user = funded_user()
    avatar = avatar_with_photos(user)
    fake_fal.script(outcome="error")
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar = poll_until_done(avatar)
    assert avatar.status == AvatarStatus.ERROR and not avatar.is_main
    assert balance_get(user=user) == Decimal("1000")
    # A late webhook and an operator's refund change nothing more.
    services.provider_webhook_handle(body=fake_fal.webhook_body(avatar.fal_request_id))
    services.avatar_training_refund(avatar=avatar, created_by="admin")
    assert balance_get(user=user) == Decimal("1000")
    assert Transaction.objects.filter(user=user, type=TransactionType.REFUND).count() == 1
    assert "возвращены" in bot_api.wait_for("sendMessage").text


def test_output_without_a_model_file_is_a_failure_not_a_ready_avatar(funded_user, fake_fal, bot_api):
    user = funded_user()
    avatar = avatar_with_photos(user)
    fake_fal.script(outcome="malformed")
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar = poll_until_done(avatar)
    assert avatar.status == AvatarStatus.ERROR and avatar.diffusers_lora_file_url is None
    assert balance_get(user=user) == Decimal("1000")


def test_a_training_past_its_deadline_is_cancelled_and_refunded(funded_user, fake_fal, bot_api, settings):
    user = funded_user()
    avatar = avatar_with_photos(user)
    fake_fal.script(outcome="hang")
    settings.FAL_TRAINING_TIMEOUT = 0
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar = poll_until_done(avatar)
    assert avatar.status == AvatarStatus.ERROR and avatar.training_error == "timeout"
    assert fake_fal.jobs[avatar.fal_request_id].cancelled
    assert balance_get(user=user) == Decimal("1000")


def test_the_first_completed_avatar_becomes_main_and_main_is_switchable(funded_user, ready_avatar):
    user = funded_user()
    first = ready_avatar(user, name="Первый", main=True)
    second = ready_avatar(user, name="Второй", main=False)
    services.avatar_set_main(user=user, avatar_id=second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_main and not first.is_main


def test_deleting_an_avatar_keeps_its_images(funded_user, ready_avatar, media):
    from generations.models import ImageGeneration

    user = funded_user()
    avatar = ready_avatar(user)
    image = ImageGeneration.objects.create(user=user, avatar=avatar, original_prompt="x", final_prompt="x",
                                           status="completed")
    services.avatar_delete(user=user, avatar_id=avatar.pk)
    image.refresh_from_db()
    assert image.avatar is None and not Avatar.objects.filter(pk=avatar.pk).exists()


def test_without_a_provider_in_production_training_is_refused_before_charging(funded_user, settings, media):
    settings.FAL_KEY = ""
    settings.DEBUG = False
    user = funded_user()
    avatar = avatar_with_photos(user)
    with pytest.raises(ProviderUnavailable):
        services.avatar_training_start(user=user, avatar_id=avatar.pk)
    assert balance_get(user=user) == Decimal("1000")


def test_the_dev_backend_trains_and_completes_offline(funded_user, settings, media, bot_api):
    settings.FAL_KEY = ""
    settings.DEBUG = True
    user = funded_user()
    avatar = avatar_with_photos(user)
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.COMPLETED  # the dev backend completes at once (tasks run immediately)


@pytest.mark.postgres
def test_an_album_of_the_same_photo_sent_at_once_keeps_it_once(funded_user, media, settings):
    """Concurrent uploads (an album): the row lock and the unique (avatar, hash) constraint keep one copy."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    settings.AVATAR_MAX_PHOTOS = 10

    user = funded_user()
    avatar = services.avatar_create(user=user, name="Аня", gender="female")

    def upload(seed):
        try:
            return services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))[1]
        except PhotoRejected as exc:
            return exc.reason
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(upload, [1, 1, 1, 2, 3, 4]))
    assert outcomes.count("duplicate") == 2, outcomes
    assert avatar.photos.count() == 4 and sorted(a.upload_order for a in avatar.photos.all()) == [1, 2, 3, 4]


def test_deleting_the_main_avatar_makes_another_ready_one_main(funded_user, ready_avatar, media):
    user = funded_user()
    main = ready_avatar(user, name="Основной", main=True)
    other = ready_avatar(user, name="Другой", main=False)
    services.avatar_delete(user=user, avatar_id=main.pk)
    other.refresh_from_db()
    assert other.is_main
