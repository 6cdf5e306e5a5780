import io
from decimal import Decimal

import pytest
from PIL import Image

from tests.botworker.conftest import bot_env  # noqa: F401 - the end-to-end fixture
from tests.support.botapi import TOKEN
from tests.support.fal import FakeFal


def image_bytes(seed: int = 0, *, size=(512, 512), fmt: str = "JPEG") -> bytes:
    """A real photo-like image; different seeds give different bytes (and hashes)."""
    image = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120))
    image.putpixel((seed % size[0], 0), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def fake_fal(settings, media):
    from generations.fal_signature import jwks_cache_clear

    jwks_cache_clear()  # keys cached for an earlier fake (perhaps on the same port) must not linger
    with FakeFal() as server:
        settings.FAL_KEY = server.key
        settings.FAL_QUEUE_URL = settings.FAL_REST_URL = settings.FAL_CDN_URL = server.base_url
        settings.FAL_JWKS_URL = server.jwks_url
        # The fake serves result files from 127.0.0.1, which production refuses: the explicit allow-list.
        settings.FAL_DOWNLOAD_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        settings.FAL_TIMEOUT = 5
        settings.FAL_RETRIES = 2
        settings.FAL_RETRY_BACKOFF = 0.01
        yield server


@pytest.fixture
def funded_user(make_user):
    from billing.services import balance_credit

    def make(coins="1000", **kwargs):
        user = make_user(**kwargs)
        balance_credit(user=user, amount=Decimal(coins), created_by="test")
        return user

    return make


@pytest.fixture
def ready_avatar(db):
    """A completed avatar with a LoRA file (as if trained), for generation tests."""
    from generations.models import Avatar, AvatarStatus

    def make(user, *, name="Аня", main=True):
        return Avatar.objects.create(
            user=user, name=name, gender="female", status=AvatarStatus.COMPLETED, is_main=main,
            trigger_phrase="TOK_abcdef12", diffusers_lora_file_url="https://files.example/lora.safetensors",
        )

    return make


@pytest.fixture
def style_catalogue(transactional_db):
    """The seeded catalogue (transactional tests flush what the data migration put there)."""
    import importlib

    from django.apps import apps

    importlib.import_module("generations.migrations.0004_seed_style_catalogue").seed(apps, None)


@pytest.fixture
async def bot(bot_env, settings, fake_fal):
    """The running bot (see tests/botworker/conftest.py) with the worker's notifications going to the same fake
    Bot API and FAL going to the fake FAL server."""
    settings.BOT_API_URL = bot_env.api.base_url
    settings.BOT_TOKEN = TOKEN
    return bot_env
