"""Neither FAL_WEBHOOK_SECRET nor FAL_KEY appears in a log line, a stored row or an admin page, through a whole
training and generation flow with webhooks (refused ones included), retries and a failure whose error text
names the submit URL."""

import io
import logging
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from billing.selectors import balance_get
from generations import services
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration
from tests.generations.conftest import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)

# Only URL-safe characters: the secret would show as itself even inside a URL-encoded query.
SECRET = "whsec-9d2f7a41c0e6"


def webhook(client, fake_fal, request_id, **kwargs):
    raw, headers = fake_fal.signed_webhook(request_id, **kwargs)
    path = urlsplit(fake_fal.jobs[request_id].webhook).path
    return client.post(path, raw, content_type="application/json", headers=headers)


def test_the_webhook_secret_and_the_fal_key_appear_in_no_log_row_or_admin_page(
        settings, caplog, client, admin_client, funded_user, ready_avatar, fake_fal, bot_api):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.request")
    settings.FAL_WEBHOOK_SECRET = SECRET
    settings.FAL_WEBHOOK_BASE_URL = "https://bot.example"
    settings.AVATAR_MIN_PHOTOS = 3
    user = funded_user()

    # A training, its upload and submit each retried once, then a malformed, an unsigned and a signed webhook.
    fake_fal.fail("/storage/auth/token", 503, times=1)
    fake_fal.fail("/fal-ai/flux-lora-portrait-trainer", 503, times=1)
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    for seed in range(3):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar.refresh_from_db()
    assert webhook(client, fake_fal, avatar.fal_request_id, body=b"{").status_code == 400
    path = urlsplit(avatar.webhook_url).path
    assert client.post(path, b"{}", content_type="application/json").status_code == 401
    assert webhook(client, fake_fal, avatar.fal_request_id).json()["outcome"] == "completed"

    # A generation whose submit is retried, completed by polling, then a late webhook.
    fake_fal.fail("/fal-ai/flux-lora", 503, times=1)
    fake_fal.script(queued=0, running=0)
    done = services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1,
                                      prompt="на пляже на закате")
    services.generation_poll(generation_id=done.pk)
    assert webhook(client, fake_fal, ImageGeneration.objects.get(pk=done.pk).provider_request_id).status_code == 200

    # A generation whose submit times out past its deadline: failed, with the submit's error text kept.
    settings.FAL_TIMEOUT = 0.3
    settings.FAL_GENERATION_TIMEOUT = 0
    fake_fal.fail("/fal-ai/flux-lora", 200, times=3, delay=1.0)
    failed = services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1,
                                        prompt="в горах зимой")

    avatar.refresh_from_db()
    done.refresh_from_db()
    failed.refresh_from_db()
    assert avatar.status == AvatarStatus.COMPLETED and done.status == GenerationStatus.COMPLETED
    assert failed.status == GenerationStatus.FAILED and "flux-lora" in failed.error_message
    assert balance_get(user=user) == Decimal("1000") - Decimal("150") - Decimal("5")
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert any(r.name == "django.request" for r in caplog.records)

    pages = [admin_client.get(reverse(name, args=args)) for name, args in (
        ("admin:generations_avatar_changelist", ()), ("admin:generations_avatar_change", (avatar.pk,)),
        ("admin:generations_imagegeneration_changelist", ()),
        ("admin:generations_imagegeneration_change", (done.pk,)),
        ("admin:generations_imagegeneration_change", (failed.pk,)),
    )]
    assert all(page.status_code == 200 for page in pages)
    rows = io.StringIO()
    call_command("dumpdata", "generations", "billing", stdout=rows)

    logged = "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records) + caplog.text
    for secret in (SECRET, fake_fal.key):
        assert secret not in logged
        assert secret not in rows.getvalue()
        for page in pages:
            assert secret not in page.content.decode()
    assert Avatar.objects.get(pk=avatar.pk).webhook_url == services.webhook_url()


def test_the_migration_rewrites_the_secret_out_of_rows_stored_by_earlier_versions(make_user):
    """Earlier versions stored the secret path in avatars.webhook_url and the submit URL (its ?fal_webhook=...)
    in error texts; migration 0006 leaves the derived path and texts without the query."""
    call_command("migrate", "generations", "0005", verbosity=0)
    # The rows as that version stored them: its models (later migrations add columns these lack).
    old = MigrationExecutor(connection).loader.project_state(("generations", "0005_generation_request_token")).apps
    user = make_user()
    submit = ("POST https://queue.fal.run/fal-ai/flux-lora?fal_webhook=https%3A%2F%2Fbot.example%2Ffal%2Fwebhook%2F"
              f"{SECRET}%2F: timed out")
    avatar = old.get_model("generations", "Avatar").objects.create(
        user_id=user.pk, name="Аня", gender="female", status=AvatarStatus.ERROR,
        webhook_url=f"https://bot.example/fal/webhook/{SECRET}/", training_error=submit)
    generation = old.get_model("generations", "ImageGeneration").objects.create(
        user_id=user.pk, original_prompt="x", final_prompt="x", status=GenerationStatus.FAILED, error_message=submit)
    call_command("migrate", "generations", verbosity=0)
    avatar = Avatar.objects.get(pk=avatar.pk)
    generation = ImageGeneration.objects.get(pk=generation.pk)
    assert avatar.webhook_url == f"https://bot.example/fal/webhook/{services.webhook_path_token(SECRET)}/"
    expected = "POST https://queue.fal.run/fal-ai/flux-lora: timed out"
    assert avatar.training_error == expected and generation.error_message == expected
