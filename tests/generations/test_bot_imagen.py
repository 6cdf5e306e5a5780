"""Imagen 4 "📝 По описанию" (issue 17 §2) end to end through the real dispatcher against the fake FAL, which
validates Imagen 4's input schema: a description, one of four ratios, one image, charged once (a double tap
too), refunded once on failure, delivered and shown in the gallery as "Imagen 4"."""

from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from botworker.callbacks import ImagenCb, Menu, MenuSection
from generations import fal, services
from generations.exceptions import ProviderRejected
from generations.models import FailureReason, GenerationStatus, ImageGeneration
from tests.generations.test_bot_generation import poll_generation, to
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "маяк на скале во время шторма, масляная живопись"


@pytest.fixture(autouse=True)
def imagen_price(settings):
    settings.IMAGEN4_GENERATION_COST = Decimal("7")


async def funded_user(bot, uid, coins="100"):
    from accounts.models import User
    from billing.services import balance_credit

    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    await bot.orm(balance_credit, user=user, amount=coins, created_by="test")
    return user


async def describe(bot, uid, prompt=PROMPT):
    """Generation menu (no avatar needed) -> "📝 По описанию" -> the description; returns the ratio screen."""
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GENERATE).pack()))
    menu = await bot.wait_for("sendMessage", to(uid, "сначала обучите аватар"))
    assert ImagenCb(action="start").pack() in menu.callback_datas()
    bot.feed(updates.callback(uid, ImagenCb(action="start").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите изображение"))
    bot.feed(updates.message(uid, prompt))
    return await bot.wait_for("sendMessage", to(uid, "формат"))


async def test_a_description_becomes_one_imagen_4_image_charged_once_and_shown_in_the_gallery(bot, fake_fal):
    uid = 6401
    user = await funded_user(bot, uid)
    ratios = await describe(bot, uid)
    assert ratios.callback_datas() == [ImagenCb(action="ratio", value=r).pack()
                                       for r in ("9x16", "1x1", "16x9", "3x4")]
    tap = ImagenCb(action="ratio", value="16x9").pack()
    bot.feed(updates.callback(uid, tap), updates.callback(uid, tap))  # a double tap, handled at once
    await bot.idle()
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    assert await bot.orm(Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count) == 1
    assert await bot.orm(balance_get, user=user) == Decimal("93")

    [job] = fake_fal.submitted()
    assert job.endpoint == "fal-ai/imagen4/preview"
    assert job.arguments == {"prompt": PROMPT, "aspect_ratio": "16:9", "num_images": 1}
    generation = await bot.orm(ImageGeneration.objects.get, user=user)
    assert generation.avatar_id is None and generation.generation_type == "imagen4"
    generation = await poll_generation(bot, generation.pk)
    assert generation.status == GenerationStatus.COMPLETED and len(generation.result_files) == 1
    photo = await bot.wait_for("sendPhoto", to(uid, "Imagen 4"))
    assert len(photo.files) == 1

    bot.feed(updates.callback(uid, Menu(section=MenuSection.GALLERY).pack()))
    card = await bot.wait_for("sendPhoto", to(uid, "Изображение 1 из 1"))
    assert "Imagen 4" in card.text and "16:9" in card.text


async def test_a_failed_imagen_generation_is_refunded_once_and_the_user_is_told(bot, fake_fal):
    uid = 6402
    user = await funded_user(bot, uid)
    fake_fal.script(outcome="error", queued=0, running=0)
    await describe(bot, uid)
    bot.feed(updates.callback(uid, ImagenCb(action="ratio", value="1x1").pack()))
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    generation = await poll_generation(bot, (await bot.orm(ImageGeneration.objects.get, user=user)).pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.failure_reason == FailureReason.CONTENT_POLICY
    notice = await bot.wait_for("sendMessage", to(uid, "Не удалось создать"))
    assert "восстановлен" in notice.text and "правила содержания" in notice.text
    await bot.orm(services.generation_poll, generation_id=generation.pk)
    assert await bot.orm(Transaction.objects.filter(user=user, type=TransactionType.REFUND).count) == 1
    assert await bot.orm(balance_get, user=user) == Decimal("100")


async def test_a_description_outside_3_to_2000_characters_is_asked_again(bot, fake_fal):
    uid = 6403
    await funded_user(bot, uid)
    bot.feed(updates.callback(uid, ImagenCb(action="start").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите изображение"))
    for text in ("ок", "я" * 2001):
        bot.feed(updates.message(uid, text))
        await bot.wait_for("sendMessage", to(uid, "от 3 до 2000"), count=1 if text == "ок" else 2)
    assert not fake_fal.submitted()


async def test_without_enough_coins_nothing_is_asked_or_charged(bot, fake_fal):
    uid = 6404
    user = await funded_user(bot, uid, coins="5")
    bot.feed(updates.callback(uid, ImagenCb(action="start").pack()))
    await bot.wait_for("sendMessage", to(uid, "Недостаточно"))
    assert await bot.orm(balance_get, user=user) == Decimal("5") and not fake_fal.submitted()


@pytest.mark.parametrize("arguments", [
    {"prompt": "a lighthouse", "aspect_ratio": "16:9", "num_images": 1, "image_size": "square_hd"},  # unknown
    {"aspect_ratio": "1:1", "num_images": 1},  # no prompt
    {"prompt": "a lighthouse", "aspect_ratio": "2:1", "num_images": 1},  # not one of Imagen's ratios
])
def test_the_fake_fal_refuses_input_outside_imagen_4s_schema(fake_fal, arguments):
    provider = fal.provider_get()
    submitted = provider.submit(fal.IMAGEN4_GENERATOR, arguments)
    while not provider.status(fal.IMAGEN4_GENERATOR, submitted.request_id).done:
        pass
    with pytest.raises(ProviderRejected) as refused:
        provider.result(fal.IMAGEN4_GENERATOR, submitted.request_id)
    assert refused.value.status == 422


def test_several_imagen_images_are_charged_per_image_and_pass_the_schema(funded_user, fake_fal, bot_api):
    user = funded_user("100")
    generation = services.imagen_generation_create(user=user, prompt=PROMPT, aspect_ratio="3:4", num_images=2)
    assert balance_get(user=user) == Decimal("86")
    assert fake_fal.submitted()[0].arguments == {"prompt": PROMPT, "aspect_ratio": "3:4", "num_images": 2}
    for _ in range(5):
        services.generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.COMPLETED and len(generation.result_files) == 2
