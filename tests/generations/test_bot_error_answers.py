"""What the avatar and gallery screens answer when their handlers raise: each screen's own error handler answers a
thing that is not found (botworker.router_errors), and a database failure is not mistaken for one — it reaches the
poller, which handles the update again."""

import asyncio

import pytest

from accounts.models import User
from botworker.callbacks import AvatarCb, GalleryCb
from botworker.models import FailedUpdate
from generations import services
from generations.models import Avatar
from tests.support import updates
from tests.support.faults import failing_writes

pytestmark = pytest.mark.django_db(transaction=True)

APOLOGY = "Что-то пошло не так"


def to(chat_id, text=None):
    return lambda c: str(c.data.get("chat_id")) == str(chat_id) and (text is None or text in c.text)


def toast(text):
    return lambda c: text in (c.data.get("text") or "")


async def started(bot, uid) -> User:
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    return await bot.orm(User.objects.get, telegram_id=uid)


async def test_each_screen_answers_what_it_did_not_find_in_its_own_words(bot):
    uid = 6301
    user = await started(bot, uid)
    missing = "0" * 32
    bot.feed(updates.callback(uid, AvatarCb(action="review", avatar=missing).pack()))  # the photo screens
    alert = await bot.wait_for("answerCallbackQuery", toast("Аватар не найден"))
    assert alert.data.get("show_alert") in (True, "true", "True")
    bot.feed(updates.callback(uid, GalleryCb(action="prompt", index=0, item=missing).pack()))  # the gallery
    await bot.wait_for("answerCallbackQuery", toast("Изображение не найдено"))

    # A rename whose avatar went away meanwhile: answered in the chat, and the rename is over.
    avatar = await bot.orm(services.avatar_create, user=user, name="Аня", gender="female")
    bot.feed(updates.callback(uid, AvatarCb(action="rename", avatar=avatar.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "Введите новое имя"))
    await bot.orm(services.avatar_delete, user=user, avatar_id=avatar.pk)
    bot.feed(updates.message(uid, "Новое имя"))
    await bot.wait_for("sendMessage", to(uid, "Аватар не найден"))
    bot.feed(updates.message(uid, "Ещё одно имя"))
    await bot.wait_for("sendMessage", to(uid, "Я не понимаю"))  # no longer taken for a name
    assert not [c for c in bot.api.calls_of("sendMessage") if APOLOGY in c.text]


@pytest.mark.postgres
async def test_a_database_failure_in_an_avatar_screen_is_handled_again_not_answered_as_not_found(
        bot, ready_avatar):
    uid = 6311
    user = await started(bot, uid)
    await bot.orm(ready_avatar, user, name="Первый")
    second = await bot.orm(ready_avatar, user, name="Второй", main=False)
    await bot.idle()
    with failing_writes("avatars", event="UPDATE", times=1) as fault:
        (update_id,) = bot.feed(updates.callback(uid, AvatarCb(action="main", avatar=second.pk.hex).pack()))
        await bot.wait_for("answerCallbackQuery", toast("Теперь это основной аватар"))
        await bot.idle()
        assert await asyncio.to_thread(fault.hits) == 1  # it did fail once, and was handled again
    assert (await bot.orm(Avatar.objects.get, pk=second.pk)).is_main
    assert not [c for c in bot.api.calls_of("answerCallbackQuery") if "не найден" in (c.data.get("text") or "")]
    assert not [c for c in bot.api.calls_of("sendMessage") if APOLOGY in c.text]
    assert bot.api.first_confirmation_of(update_id) is not None
    assert not await bot.orm(FailedUpdate.objects.exists)
