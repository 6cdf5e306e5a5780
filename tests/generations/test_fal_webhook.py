"""FAL webhooks: the path carries no secret, and only deliveries signed by FAL (Ed25519, keys from its JWKS,
a fresh timestamp) touch a job."""

import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from billing.selectors import balance_get
from generations import services
from generations.models import Avatar, AvatarStatus
from tests.generations.conftest import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "fal-hook-secret-3f9a7c"
HEADERS = ("X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id", "X-Fal-Webhook-Timestamp",
           "X-Fal-Webhook-Signature")


@pytest.fixture
def training(settings, funded_user, fake_fal, bot_api):
    """A training submitted with the webhook on; returns its avatar and FAL's job."""
    settings.FAL_WEBHOOK_SECRET = SECRET
    settings.FAL_WEBHOOK_BASE_URL = "https://bot.example"
    settings.AVATAR_MIN_PHOTOS = 3
    user = funded_user()
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    for seed in range(3):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    services.avatar_training_start(user=user, avatar_id=avatar.pk)
    avatar.refresh_from_db()
    return avatar, fake_fal.jobs[avatar.fal_request_id]


def deliver(client, job, raw: bytes, headers: dict):
    return client.post(urlsplit(job.webhook).path, raw, content_type="application/json", headers=headers)


def assert_untouched(avatar, bot_api):
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.TRAINING and avatar.diffusers_lora_file_url is None
    assert balance_get(user=avatar.user) == Decimal("850")
    assert not bot_api.calls_of("sendMessage")


def test_the_webhook_path_is_derived_from_the_secret_and_the_secret_itself_is_no_path(training, client):
    avatar, job = training
    assert job.webhook == f"https://bot.example/fal/webhook/{services.webhook_path_token()}/"
    assert SECRET not in job.webhook and SECRET not in avatar.webhook_url
    assert avatar.webhook_url == job.webhook
    assert client.post(f"/fal/webhook/{SECRET}/", b"{}", content_type="application/json").status_code == 404


def test_a_signed_webhook_completes_the_training_once_and_polling_after_it_is_a_no_op(
        training, fake_fal, bot_api, client):
    avatar, job = training
    raw, headers = fake_fal.signed_webhook(job.request_id)
    first, again = deliver(client, job, raw, headers), deliver(client, job, raw, headers)
    assert (first.json()["outcome"], again.json()["outcome"]) == ("completed", "duplicate")
    services.avatar_training_poll(avatar_id=avatar.pk)
    avatar.refresh_from_db()
    assert avatar.status == AvatarStatus.COMPLETED
    assert len(bot_api.calls_of("sendMessage")) == 1


def test_a_webhook_signed_with_a_key_fal_does_not_publish_is_refused(training, fake_fal, bot_api, client):
    avatar, job = training
    raw, headers = fake_fal.signed_webhook(job.request_id, key=Ed25519PrivateKey.generate())
    assert deliver(client, job, raw, headers).status_code == 401
    assert_untouched(avatar, bot_api)


def test_a_tampered_body_is_refused(training, fake_fal, bot_api, client):
    avatar, job = training
    raw, headers = fake_fal.signed_webhook(job.request_id)
    forged = fake_fal.webhook_body(job.request_id) | {"payload": {"diffusers_lora_file": {"url": "https://x/y"}}}
    assert deliver(client, job, fake_fal.signed_webhook(job.request_id, body=forged)[0], headers).status_code == 401
    assert_untouched(avatar, bot_api)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(training, fake_fal, bot_api, client, offset):
    avatar, job = training
    raw, headers = fake_fal.signed_webhook(job.request_id, timestamp=int(time.time()) + offset)
    assert deliver(client, job, raw, headers).status_code == 401
    assert_untouched(avatar, bot_api)


@pytest.mark.parametrize("missing", HEADERS)
def test_a_webhook_without_a_signature_header_is_refused(training, fake_fal, bot_api, client, missing):
    avatar, job = training
    raw, headers = fake_fal.signed_webhook(job.request_id)
    del headers[missing]
    assert deliver(client, job, raw, headers).status_code == 401
    assert_untouched(avatar, bot_api)


def test_a_rotated_key_is_fetched_once_and_forgeries_do_not_make_us_refetch(training, fake_fal, bot_api, client):
    avatar, job = training
    old_key = fake_fal.signing_key
    assert deliver(client, job, *fake_fal.signed_webhook(job.request_id)).json()["outcome"] == "completed"
    assert fake_fal.jwks_fetches() == 1
    assert deliver(client, job, *fake_fal.signed_webhook(job.request_id)).json()["outcome"] == "duplicate"
    assert fake_fal.jwks_fetches() == 1  # cached

    fake_fal.rotate_key()
    assert deliver(client, job, *fake_fal.signed_webhook(job.request_id)).json()["outcome"] == "duplicate"
    assert fake_fal.jwks_fetches() == 2  # the unknown key made one refetch
    for key in (Ed25519PrivateKey.generate(), old_key):  # a forgery, and the key FAL no longer publishes
        assert deliver(client, job, *fake_fal.signed_webhook(job.request_id, key=key)).status_code == 401
    assert fake_fal.jwks_fetches() == 2  # refetches are rate-limited


def test_when_fals_keys_cannot_be_fetched_the_webhook_is_answered_503_and_a_resend_is_handled(
        training, fake_fal, bot_api, client):
    avatar, job = training
    fake_fal.fail("/.well-known/jwks.json", 500, times=1)
    raw, headers = fake_fal.signed_webhook(job.request_id)
    assert deliver(client, job, raw, headers).status_code == 503
    assert_untouched(avatar, bot_api)
    assert deliver(client, job, raw, headers).json()["outcome"] == "completed"


def test_a_signed_body_that_is_not_json_is_a_bad_request(training, fake_fal, bot_api, client):
    avatar, job = training
    assert deliver(client, job, *fake_fal.signed_webhook(job.request_id, body=b"not json")).status_code == 400
    assert_untouched(avatar, bot_api)


def test_webhooks_are_off_without_the_secret(settings, fake_fal):
    settings.FAL_WEBHOOK_BASE_URL = "https://bot.example"
    settings.FAL_WEBHOOK_SECRET = ""
    assert services.webhook_url() == ""
    assert not services.webhook_path_token_valid(token=services.webhook_path_token(""))
