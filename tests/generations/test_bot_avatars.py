"""The avatar wizard end to end: the real dispatcher against the fake Bot API, FAL against the fake FAL server."""

from decimal import Decimal

import pytest

from accounts.models import User
from billing.selectors import balance_get
from billing.services import balance_credit
from botworker.callbacks import AvatarCb, BalanceTopUp, GenderCb, Menu, MenuSection, TrainingTypeCb
from generations import notify, services
from generations.models import Avatar, AvatarStatus
from tests.generations.conftest import image_bytes
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AVATAR_MIN_PHOTOS = 3
    settings.AVATAR_MAX_PHOTOS = 5
    settings.AVATAR_CREATION_COST = Decimal("150")


def to(chat_id, text=None):
    return lambda c: str(c.data.get("chat_id")) == str(chat_id) and (text is None or text in c.text)


async def poll_training(bot, avatar_id, limit=10):
    for _ in range(limit):
        await bot.orm(services.avatar_training_poll, avatar_id=avatar_id)
        avatar = await bot.orm(Avatar.objects.get, pk=avatar_id)
        if avatar.status != AvatarStatus.TRAINING:
            return avatar
    return avatar


async def test_a_full_avatar_creation_from_the_wizard_to_a_trained_main_avatar(bot, fake_fal):
    uid = 6101
    bot.feed(updates.callback(uid, Menu(section=MenuSection.AVATARS).pack()))
    section = await bot.wait_for("sendMessage", to(uid, "Аватары"))
    assert AvatarCb(action="new").pack() in section.callback_datas()
    bot.feed(updates.callback(uid, AvatarCb(action="new").pack()))
    await bot.wait_for("sendMessage", to(uid, "Как назовём"))
    bot.feed(updates.message(uid, "Аня"))
    await bot.wait_for("sendMessage", to(uid, "Выберите пол"))
    bot.feed(updates.callback(uid, GenderCb(gender="female").pack()))
    await bot.wait_for("sendMessage", to(uid, "Тип обучения"))
    bot.feed(updates.callback(uid, TrainingTypeCb(training_type="portrait").pack()))
    upload = await bot.wait_for("sendMessage", to(uid, "Загрузка фото"))
    assert "Загружено 0 из 3" in upload.text
    assert "balance_top_up" in upload.callback_datas()  # no coins yet: the top-up button is on this screen

    # An album of three real photos arrives at once; a text file renamed to .jpg and a repeated photo come after.
    for n in range(3):
        bot.api.add_file(f"p{n}", image_bytes(n))
    bot.feed(*[updates.photo(uid, f"p{n}", media_group_id="album-1") for n in range(3)])
    summary = await bot.wait_for("sendMessage", to(uid, "Из альбома"))
    assert "принято фото: 3" in summary.text and "Загружено 3 из 3" in summary.text
    assert not [c for c in bot.api.calls_of("sendMessage") if "Фото принято" in c.text]  # one summary, not three
    bot.api.add_file("txt", b"this is not a photo at all\n" * 100, file_path="documents/photo.jpg")
    bot.feed(updates.document(uid, "txt", file_name="photo.jpg", mime_type="image/jpeg"))
    assert "не является изображением" in (await bot.wait_for("sendMessage", to(uid, "не принято"))).text
    bot.api.add_file("again", image_bytes(1))
    bot.feed(updates.photo(uid, "again"))
    assert "уже было загружено" in (await bot.wait_for("sendMessage", to(uid, "уже было"))).text

    user = await bot.orm(User.objects.get, telegram_id=uid)
    avatar = await bot.orm(Avatar.objects.get, user=user)
    assert avatar.status == AvatarStatus.READY_FOR_TRAINING and avatar.photos_count == 3

    # The top-up button works in the middle of the upload, and the upload goes on afterwards.
    bot.feed(updates.callback(uid, BalanceTopUp().pack()))
    await bot.wait_for("sendMessage", to(uid, "Пополнение баланса"))
    await bot.orm(balance_credit, user=user, amount="200", created_by="test")
    bot.feed(updates.callback(uid, AvatarCb(action="ready", avatar=avatar.pk.hex).pack()))
    review = await bot.wait_for("sendMessage", to(uid, "Проверьте данные"))
    assert "150" in review.text and "200" in review.text
    bot.feed(updates.callback(uid, AvatarCb(action="train", avatar=avatar.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "Обучение началось"))
    assert await bot.orm(balance_get, user=user) == Decimal("50")
    assert len(fake_fal.submitted("fal-ai/flux-lora-portrait-trainer")) == 1

    avatar = await poll_training(bot, avatar.pk)
    assert avatar.status == AvatarStatus.COMPLETED and avatar.is_main
    ready = await bot.wait_for("sendMessage", to(uid, "готов"))
    assert notify.CALLBACKS["generate"] in ready.callback_datas()


async def test_a_failed_training_is_refunded_and_the_user_is_told(bot, fake_fal):
    uid = 6102
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    await bot.orm(balance_credit, user=user, amount="150", created_by="test")
    avatar = await bot.orm(services.avatar_create, user=user, name="Боб", gender="male")
    for n in range(3):
        await bot.orm(services.avatar_photo_add, user=user, avatar_id=avatar.pk, content=image_bytes(n + 10))
    fake_fal.script(outcome="error")
    bot.feed(updates.callback(uid, AvatarCb(action="train", avatar=avatar.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "Обучение началось"))
    assert await bot.orm(balance_get, user=user) == Decimal("0")
    avatar = await poll_training(bot, avatar.pk)
    assert avatar.status == AvatarStatus.ERROR
    assert "возвращены" in (await bot.wait_for("sendMessage", to(uid, "Не удалось обучить"))).text
    assert await bot.orm(balance_get, user=user) == Decimal("150")


async def test_another_users_avatar_id_in_callback_data_is_refused(bot, fake_fal):
    owner_uid, stranger_uid = 6103, 6104
    bot.feed(updates.message(owner_uid, "/start"), updates.message(stranger_uid, "/start"))
    await bot.wait_for("sendMessage", count=2)
    owner = await bot.orm(User.objects.get, telegram_id=owner_uid)
    stranger = await bot.orm(User.objects.get, telegram_id=stranger_uid)
    await bot.orm(balance_credit, user=stranger, amount="500", created_by="test")
    avatar = await bot.orm(services.avatar_create, user=owner, name="Чужой", gender="male")
    for n in range(3):
        await bot.orm(services.avatar_photo_add, user=owner, avatar_id=avatar.pk, content=image_bytes(n + 20))
    for action in ("train", "delete_ok", "rename", "main"):
        bot.feed(updates.callback(stranger_uid, AvatarCb(action=action, avatar=avatar.pk.hex).pack()))
        answer = await bot.wait_for("answerCallbackQuery", lambda c: "не найден" in (c.data.get("text") or ""),
                                    count=1)
        assert answer.data.get("show_alert") in (True, "true", "True")
        bot.api.calls.clear()
    avatar = await bot.orm(Avatar.objects.get, pk=avatar.pk)
    assert avatar.status == AvatarStatus.READY_FOR_TRAINING and avatar.name == "Чужой"
    assert await bot.orm(balance_get, user=stranger) == Decimal("500")
    assert not fake_fal.submitted()


def test_notification_buttons_are_the_bots_own_callbacks():
    assert notify.CALLBACKS == {
        "avatar_list": Menu(section=MenuSection.AVATARS).pack(),
        "generate": Menu(section=MenuSection.GENERATE).pack(),
        "gallery": Menu(section=MenuSection.GALLERY).pack(),
        "top_up": BalanceTopUp().pack(),
    }


async def test_uploaded_photos_can_be_reviewed_and_removed_and_the_avatar_renamed(bot, fake_fal):
    uid = 6105
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    avatar = await bot.orm(services.avatar_create, user=user, name="Вера", gender="female")
    for n in range(3):
        await bot.orm(services.avatar_photo_add, user=user, avatar_id=avatar.pk, content=image_bytes(n + 30))
    bot.feed(updates.callback(uid, AvatarCb(action="review", avatar=avatar.pk.hex, index=1).pack()))
    viewer = await bot.wait_for("sendPhoto", to(uid, "Фото 2 из 3"))
    assert list(viewer.files.values()) == [image_bytes(31)]
    bot.feed(updates.callback(uid, AvatarCb(action="photo_delete", avatar=avatar.pk.hex, index=1).pack()))
    upload = await bot.wait_for("sendMessage", to(uid, "Загружено 2 из 3"))
    assert AvatarCb(action="ready", avatar=avatar.pk.hex).pack() not in upload.callback_datas()
    avatar = await bot.orm(Avatar.objects.get, pk=avatar.pk)
    assert avatar.status == AvatarStatus.PHOTOS_UPLOADING and avatar.photos_count == 2

    bot.feed(updates.callback(uid, AvatarCb(action="rename", avatar=avatar.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "новое имя"))
    bot.feed(updates.message(uid, "Вера в горах"))
    await bot.wait_for("sendMessage", to(uid, "переименован"))
    assert (await bot.orm(Avatar.objects.get, pk=avatar.pk)).name == "Вера в горах"
    assert await bot.orm(Avatar.objects.filter(user=user).count) == 1
