"""FAL failures fail the job at once (issue 17 §1): FAL has no FAILED state, so a COMPLETED status carrying an
error, an error result FAL does not mark retryable, or a key problem (401/403) fails the job now, refunds it
once and tells the user why in their language. Only transient errors are retried, a bounded number of times."""

import logging
from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from generations import services
from generations.models import Avatar, AvatarStatus, FailureReason, GenerationStatus, ImageGeneration
from tests.generations.conftest import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def far_deadlines(settings):
    """Deadlines far away: a failure that waited for one would not show up in these tests."""
    settings.FAL_GENERATION_TIMEOUT = settings.FAL_TRAINING_TIMEOUT = 3600
    settings.FAL_MAX_TRANSIENT_FAILURES = 3
    settings.AVATAR_MIN_PHOTOS = 3


def start_generation(user, avatar) -> ImageGeneration:
    generation = services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=2,
                                            prompt="в горах на закате")
    assert balance_get(user=user) == Decimal("90")
    return generation


def poll_once(generation) -> ImageGeneration:
    services.generation_poll(generation_id=generation.pk)
    return ImageGeneration.objects.get(pk=generation.pk)


def refunds() -> int:
    return Transaction.objects.filter(type=TransactionType.REFUND).count()


def notices(bot_api, chat_id) -> list[str]:
    return [c.text for c in bot_api.calls_of("sendMessage") if str(c.data.get("chat_id")) == str(chat_id)]


def assert_failed_now(generation, user, bot_api, reason, text):
    assert generation.status == GenerationStatus.FAILED and generation.failure_reason == reason
    assert balance_get(user=user) == Decimal("100") and refunds() == 1
    assert any(text in notice for notice in notices(bot_api, user.telegram_id))
    assert generation.delivered_at is not None


def test_a_completed_status_carrying_an_error_fails_and_refunds_at_once(funded_user, ready_avatar, fake_fal,
                                                                         bot_api):
    user = funded_user("100")
    fake_fal.script(outcome="status_error", queued=0, running=0, error_type="content_policy_violation")
    generation = poll_once(start_generation(user, ready_avatar(user)))
    assert_failed_now(generation, user, bot_api, FailureReason.CONTENT_POLICY, "правила содержания")
    assert fake_fal.jobs[generation.provider_request_id].result_calls == 0
    poll_once(generation)  # a later poll or webhook changes nothing
    services.provider_webhook_handle(body=fake_fal.webhook_body(generation.provider_request_id))
    assert refunds() == 1 and balance_get(user=user) == Decimal("100")


@pytest.mark.parametrize("error_type, detail, reason, text", [
    ("content_policy_violation", None, FailureReason.CONTENT_POLICY, "правила содержания"),
    ("validation_error", [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}],
     FailureReason.BAD_INPUT, "отклонил параметры"),
])
def test_a_422_result_fails_at_once_with_its_reason(funded_user, ready_avatar, fake_fal, bot_api, error_type,
                                                    detail, reason, text):
    user = funded_user("100")
    fake_fal.script(outcome="error", queued=0, running=0, error_type=error_type, detail=detail)
    generation = poll_once(start_generation(user, ready_avatar(user)))
    assert_failed_now(generation, user, bot_api, reason, text)


def test_a_500_app_error_without_retryable_fails_at_once_and_reports_an_outage(funded_user, ready_avatar,
                                                                               fake_fal, bot_api, caplog):
    user = funded_user("100")
    fake_fal.script(outcome="error", queued=0, running=0, error_status=500, error_type="internal_server_error")
    with caplog.at_level(logging.WARNING, logger="generations.services.jobs"):
        generation = poll_once(start_generation(user, ready_avatar(user)))
    assert_failed_now(generation, user, bot_api, FailureReason.PROVIDER_ERROR, "ошибка на стороне провайдера")
    job = fake_fal.jobs[generation.provider_request_id]
    assert job.result_calls == 1  # not retried
    assert any("FAL provider problem" in r.getMessage() for r in caplog.records)


def test_a_500_marked_retryable_is_retried_then_fails_after_the_bound(funded_user, ready_avatar, fake_fal,
                                                                      bot_api, settings):
    user = funded_user("100")
    fake_fal.script(outcome="error", queued=0, running=0, error_status=500, error_type="runner_unavailable",
                    retryable=True)
    generation = start_generation(user, ready_avatar(user))
    for _ in range(settings.FAL_MAX_TRANSIENT_FAILURES):
        generation = poll_once(generation)
        assert generation.status == GenerationStatus.PROCESSING and refunds() == 0
    generation = poll_once(generation)
    assert_failed_now(generation, user, bot_api, FailureReason.PROVIDER_ERROR, "ошибка на стороне провайдера")


def test_a_transient_failure_counter_resets_on_a_good_answer(funded_user, ready_avatar, fake_fal, bot_api,
                                                             settings):
    user = funded_user("100")
    fake_fal.script(queued=10, running=0)
    generation = start_generation(user, ready_avatar(user))
    for _ in range(3):
        fake_fal.fail("/status", 503, times=settings.FAL_RETRIES + 1)  # the client's own retries run out
        generation = poll_once(generation)
        assert generation.provider_failures == 1
        generation = poll_once(generation)
        assert generation.status == GenerationStatus.PROCESSING and generation.provider_failures == 0


@pytest.mark.parametrize("status", [401, 403])
def test_a_key_problem_fails_at_once_and_reports_an_outage(funded_user, ready_avatar, fake_fal, bot_api, caplog,
                                                           status):
    user = funded_user("100")
    generation = start_generation(user, ready_avatar(user))
    fake_fal.fail("/status", status, body={"detail": "User is locked. Reason: Exhausted balance."})
    with caplog.at_level(logging.WARNING, logger="generations.services.jobs"):
        generation = poll_once(generation)
    assert_failed_now(generation, user, bot_api, FailureReason.PROVIDER_ACCOUNT, "ошибка на стороне провайдера")
    assert any("FAL provider problem (provider_account)" in r.getMessage() for r in caplog.records)


def test_the_user_is_told_the_reason_in_their_language(funded_user, ready_avatar, fake_fal, bot_api):
    user = funded_user("100", language_code="en")
    fake_fal.script(outcome="error", queued=0, running=0)
    poll_once(start_generation(user, ready_avatar(user)))
    assert any("content policy" in text for text in notices(bot_api, user.telegram_id))


def test_a_training_with_unusable_photos_fails_at_once_and_says_so(funded_user, fake_fal, bot_api):
    user = funded_user("1000")
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    for seed in range(3):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    fake_fal.script(outcome="status_error", queued=0, running=0, error_type="image_too_small")
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    services.avatar_training_poll(avatar_id=avatar.pk)
    avatar = Avatar.objects.get(pk=avatar.pk)
    assert avatar.status == AvatarStatus.ERROR and avatar.failure_reason == FailureReason.BAD_INPUT
    assert balance_get(user=user) == Decimal("1000") and refunds() == 1
    assert any("фотографии" in text for text in notices(bot_api, user.telegram_id))


def test_a_webhook_reporting_an_error_fails_with_its_reason(funded_user, ready_avatar, fake_fal, bot_api):
    user = funded_user("100")
    fake_fal.script(outcome="error", queued=5, running=5, error_type="content_policy_violation")
    generation = start_generation(user, ready_avatar(user))
    generation.refresh_from_db()
    services.provider_webhook_handle(body=fake_fal.webhook_body(generation.provider_request_id))
    generation.refresh_from_db()
    assert_failed_now(generation, user, bot_api, FailureReason.CONTENT_POLICY, "правила содержания")


def test_a_key_problem_alerts_the_operators_once_per_problem_class(funded_user, ready_avatar, fake_fal, bot_api,
                                                                   settings, django_capture_on_commit_callbacks):
    settings.ADMIN_IDS = [5001]
    settings.OPERATOR_ALERTS_ENABLED = True
    settings.OPERATOR_ALERTS_DEDUP_SECONDS = 3600
    user = funded_user("100")
    avatar = ready_avatar(user)
    first = start_generation(user, avatar)
    second = services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=2,
                                        prompt="в лесу")
    fake_fal.fail("/status", 401, body={"detail": "Invalid key"})
    with django_capture_on_commit_callbacks(execute=True):
        poll_once(first)
        poll_once(second)
    alerts = notices(bot_api, 5001)
    assert len(alerts) == 1 and "FAL" in alerts[0] and "Invalid key" in alerts[0]
