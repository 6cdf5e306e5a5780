"""Users whose Telegram language is English get the bot in English; everyone else gets Russian (the msgids)."""

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.languages import language_for
from botworker.callbacks import Menu, MenuSection
from botworker.orm import db
from generations import services
from generations.models import Avatar, AvatarStatus
from tests.support import updates
from tests.support.botapi import TOKEN, FakeBotAPI

ENGLISH_MENU = ["🎭 My avatars", "🎨 Create a photo", "🖼️ My images", "💰 Balance (0)", "🎁 Promo code", "❓ Help"]
RUSSIAN_MENU = ["🎭 Мои аватары", "🎨 Создать фото", "🖼️ Мои работы", "💰 Баланс (0)", "🎁 Промокод", "❓ Помощь"]


def to(chat_id):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id)


def button_texts(call) -> list[str]:
    return [button["text"] for button in call.buttons()]


@pytest.mark.parametrize(("code", "language"), [
    ("en", "en"), ("en-US", "en"), ("en_GB", "en"), ("EN", "en"),
    ("ru", "ru"), ("uk", "ru"), ("de", "ru"), ("", "ru"), (None, "ru"), ("eng", "ru"),
])
def test_english_is_served_to_en_language_codes_and_russian_to_everyone_else(code, language):
    assert language_for(code) == language


@pytest.mark.django_db(transaction=True)
async def test_an_english_user_gets_the_english_welcome_and_menu(bot_env):
    bot_env.feed(updates.message(7101, "/start", from_user=updates.tg_user(7101, first_name="Ann",
                                                                           language_code="en-US")))
    call = await bot_env.wait_for("sendMessage", to(7101))
    assert call.text.startswith("👋 Hi, <b>Ann</b>!") and "Telegram Stars" in call.text
    assert button_texts(call) == ENGLISH_MENU


@pytest.mark.django_db(transaction=True)
async def test_a_russian_user_gets_the_russian_welcome_and_menu(bot_env):
    bot_env.feed(updates.message(7102, "/start", from_user=updates.tg_user(7102, first_name="Аня")))
    call = await bot_env.wait_for("sendMessage", to(7102))
    assert call.text.startswith("👋 Привет, <b>Аня</b>!")
    assert button_texts(call) == RUSSIAN_MENU


@pytest.mark.django_db(transaction=True)
async def test_users_handled_at_the_same_time_each_get_their_own_language(bot_env):
    """Updates of one batch run concurrently: the override must not leak from one user's update to another's."""
    users = {7110 + i: ("en" if i % 2 else "ru") for i in range(6)}
    bot_env.feed(*(updates.message(uid, "/help", from_user=updates.tg_user(uid, language_code=code))
                   for uid, code in users.items()))
    await bot_env.wait_for("sendMessage", lambda c: int(c.data["chat_id"]) in users, count=len(users))
    for call in bot_env.api.calls_of("sendMessage"):
        expected = "❓ <b>Help</b>" if users[int(call.data["chat_id"])] == "en" else "❓ <b>Помощь</b>"
        assert call.text.startswith(expected)
        assert button_texts(call) == (["🏠 Main menu"] if expected.endswith("Help</b>") else ["🏠 Главное меню"])


@pytest.mark.django_db(transaction=True)
async def test_callbacks_of_an_english_user_are_answered_in_english(bot_env):
    frm = updates.tg_user(7103, language_code="en")
    bot_env.feed(updates.callback(7103, Menu(section=MenuSection.PROMO).pack(), from_user=frm))
    call = await bot_env.wait_for("sendMessage", to(7103))
    assert call.text.startswith("🎁 Send the promo code in one message")


async def test_texts_rendered_on_the_orm_thread_follow_the_override():
    """Handlers render some texts inside ``sync_to_async``: the language override reaches that thread."""
    with translation.override("en"):
        assert await db(gettext, "Главное меню") == "Main menu"
    with translation.override("ru"):
        assert await db(gettext, "Главное меню") == "Главное меню"


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "🎉 Your avatar “Ann” is ready! You can now create images."),
    ("ru", "🎉 Ваш аватар «Ann» готов! Теперь можно создавать изображения."),
])
def test_the_training_notice_from_the_worker_is_in_the_recipients_language(bot_api, make_user, code, expected):
    user = make_user(language_code=code)
    avatar = Avatar.objects.create(user=user, name="Ann", gender="female", status=AvatarStatus.COMPLETED,
                                   trigger_phrase="TOK_x", diffusers_lora_file_url="https://files.example/l")
    assert services.avatar_training_notify(avatar_id=avatar.pk)
    call = bot_api.wait_for("sendMessage")
    assert call.text == expected
    assert translation.get_language() == "ru"  # the worker's own language is left as it was
    assert Avatar.objects.get(pk=avatar.pk).notified_at <= timezone.now()


@pytest.mark.django_db(transaction=True)
async def test_the_apology_after_a_failed_handler_is_in_the_users_language(bot_env):
    """Errors are handled outside the user middleware, so the error handler sets the language itself."""
    bot_env.api.fail("sendMessage", 400, "Bad Request: chat not found", times=1)
    bot_env.feed(updates.message(7104, "/start", from_user=updates.tg_user(7104, language_code="en")))
    apology = await bot_env.wait_for("sendMessage", lambda c: to(7104)(c) and c.text.startswith("😔"), count=1)
    assert apology.text.startswith("😔 Something went wrong.")


async def test_the_command_list_is_set_in_russian_by_default_and_in_english_for_english_apps():
    from botworker.dispatcher import create_bot, set_bot_commands

    with FakeBotAPI() as api:
        bot = create_bot(TOKEN, api_url=api.base_url)
        try:
            await set_bot_commands(bot)
        finally:
            await bot.session.close()
    lists = {call.data.get("language_code", ""): {c["command"]: c["description"] for c in call.json("commands")}
             for call in api.calls_of("setMyCommands")}
    assert lists[""]["start"] == "Главное меню" and lists[""]["paysupport"] == "Вопросы об оплате"
    assert lists["en"] == {"start": "Main menu", "balance": "Balance and top-up", "promo": "Enter a promo code",
                           "help": "Help", "paysupport": "Payment questions"}
