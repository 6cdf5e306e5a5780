"""Rows adopted from the earlier service: avatars of gender "other" (its first enum had it) are kept, shown and
trained with the neutral trigger; new avatars stay male or female. The starting style catalogue goes only into an
empty catalogue."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from accounts.models import User
from botworker.callbacks import AvatarCb, GenderCb
from generations import fal, services
from generations.exceptions import InvalidInput
from generations.models import Avatar, AvatarGender, AvatarStatus, StyleCategory, StyleTemplate
from tests.generations.conftest import image_bytes
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)
SEED = importlib.import_module("generations.migrations.0004_seed_style_catalogue")


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AVATAR_MIN_PHOTOS = 3
    settings.AVATAR_CREATION_COST = Decimal("150")


def adopted_other_avatar(user) -> Avatar:
    """As adoption leaves a legacy avatar of the first enum's OTHER: no trigger phrase of ours, the old word."""
    avatar = services.avatar_create(user=user, name="Саша", gender="female")
    Avatar.objects.filter(pk=avatar.pk).update(gender=AvatarGender.OTHER, trigger_phrase=None, trigger_word="TOK")
    for seed in range(3):
        services.avatar_photo_add(user=user, avatar_id=avatar.pk, content=image_bytes(seed))
    return Avatar.objects.get(pk=avatar.pk)


def test_a_new_avatar_is_male_or_female_only(funded_user):
    with pytest.raises(InvalidInput):
        services.avatar_create(user=funded_user(), name="Саша", gender=AvatarGender.OTHER)


def test_an_adopted_avatar_of_gender_other_trains_with_the_neutral_trigger_phrase(funded_user, fake_fal, bot_api):
    user = funded_user()
    avatar = services.avatar_training_start(user=user, avatar_id=adopted_other_avatar(user).pk)
    neutral = f"TOK_{avatar.pk.hex[:8]}"
    assert avatar.trigger_phrase == neutral and avatar.gender == AvatarGender.OTHER
    arguments = fake_fal.submitted(fal.PORTRAIT_TRAINER)[0].arguments
    assert arguments["trigger_phrase"] == neutral
    assert not {"man", "woman", "male", "female", "other"} & set(str(arguments).lower().replace(",", " ").split())


async def test_the_bot_shows_gender_other_and_its_wizard_offers_male_and_female_only(bot):
    uid = 6201
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", lambda c: str(c.data.get("chat_id")) == str(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    await bot.orm(Avatar.objects.create, user=user, name="Саша", gender=AvatarGender.OTHER,
                  status=AvatarStatus.COMPLETED)
    bot.feed(updates.callback(uid, AvatarCb(action="list").pack()))
    card = await bot.wait_for("sendMessage", lambda c: "Саша" in c.text)
    assert "Пол: другой" in card.text
    bot.feed(updates.callback(uid, AvatarCb(action="new").pack()))
    await bot.wait_for("sendMessage", lambda c: "Как назовём" in c.text)
    bot.feed(updates.message(uid, "Новый"))
    question = await bot.wait_for("sendMessage", lambda c: "Выберите пол" in c.text)
    offered = [data for data in question.callback_datas() if data.startswith(GenderCb.__prefix__ + ":")]
    assert offered == [GenderCb(gender="male").pack(), GenderCb(gender="female").pack()]


def test_the_starting_catalogue_is_seeded_into_an_empty_catalogue_only():
    StyleCategory.objects.create(id="own", name="Своё", icon="✨", description="")
    SEED.seed(apps, None)
    assert list(StyleCategory.objects.values_list("pk", flat=True)) == ["own"]
    assert not StyleTemplate.objects.exists()
    StyleCategory.objects.all().delete()
    SEED.seed(apps, None)
    assert StyleCategory.objects.count() == len(SEED.CATALOGUE)
    seeded = [template for *_, subcategories in SEED.CATALOGUE for *_, templates in subcategories
              for template in templates]
    assert StyleTemplate.objects.count() == len(seeded)
