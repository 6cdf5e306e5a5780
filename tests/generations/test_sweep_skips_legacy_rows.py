"""After adopting a legacy database, the stuck-job sweep leaves the old rows alone: they were never charged
here, so nothing is sent to FAL, nobody is told "balance restored", and a missing deadline breaks nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Transaction
from generations import services
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration

pytestmark = pytest.mark.django_db(transaction=True)

LONG_AGO = timezone.now() - timedelta(days=400)


def legacy_generation(user, avatar, status, **kwargs):
    return ImageGeneration.objects.create(
        user=user, avatar=avatar, original_prompt="old", final_prompt="old", status=status, created_at=LONG_AGO,
        **kwargs,
    )


@pytest.fixture
def legacy_rows(make_user, ready_avatar):
    user = make_user()
    avatar = ready_avatar(user)
    rows = {
        "failed": legacy_generation(user, avatar, GenerationStatus.FAILED, completed_at=LONG_AGO),
        "completed": legacy_generation(user, avatar, GenerationStatus.COMPLETED, completed_at=LONG_AGO),
        "processing": legacy_generation(user, avatar, GenerationStatus.PROCESSING, provider_request_id="old-req"),
        "pending": legacy_generation(user, avatar, GenerationStatus.PENDING),
        "training": Avatar.objects.create(user=user, name="Old", gender="male", status=AvatarStatus.TRAINING,
                                          fal_request_id="old-training"),
    }
    return rows


def test_the_sweep_ignores_legacy_generations_and_trainings(legacy_rows, bot_api, fake_fal):
    counts = services.jobs_resume_stuck()
    assert counts == {"trainings": 0, "generations": 0, "deliveries": 0, "notices": 0}
    assert not bot_api.calls_of("sendMessage") and not bot_api.calls_of("sendMediaGroup")
    assert fake_fal.requests == [] and not fake_fal.submitted()
    assert not Transaction.objects.exists()
    statuses = {key: type(row).objects.get(pk=row.pk).status for key, row in legacy_rows.items()}
    assert statuses == {"failed": "failed", "completed": "completed", "processing": "processing",
                        "pending": "pending", "training": "training"}


def test_a_legacy_pending_row_is_never_submitted_uncharged(legacy_rows, fake_fal):
    services.generation_submit(generation_id=legacy_rows["pending"].pk)
    services.avatar_training_submit(avatar_id=legacy_rows["training"].pk)
    assert not fake_fal.submitted()
    assert ImageGeneration.objects.get(pk=legacy_rows["pending"].pk).status == GenerationStatus.PENDING


def test_polling_a_job_without_a_deadline_does_not_crash(legacy_rows, fake_fal, bot_api):
    """FAL busy (a retryable error) and no deadline: the job counts as expired instead of raising TypeError."""
    fake_fal.fail("status", 503, times=20)
    fake_fal.fail("/old-training", 503, times=20)
    services.generation_poll(generation_id=legacy_rows["processing"].pk)
    services.avatar_training_poll(avatar_id=legacy_rows["training"].pk)
    assert ImageGeneration.objects.get(pk=legacy_rows["processing"].pk).status == GenerationStatus.FAILED
    assert Avatar.objects.get(pk=legacy_rows["training"].pk).status == AvatarStatus.ERROR
    assert not Transaction.objects.exists()
