"""Avatar names are what people see: made only of invisible characters they are refused like any invalid name,
through the service (create and rename) and the bot's wizard and rename screen."""

import unicodedata

import pytest

from accounts.models import User
from botworker.callbacks import AvatarCb
from generations import services
from generations.exceptions import InvalidInput
from generations.models import Avatar
from tests.support import updates

INVISIBLE_NAMES = [
    pytest.param("\u200b\u200b\u200b", id="zero-width spaces"),
    pytest.param("\u200d\u200d", id="zero-width joiners"),
    pytest.param("\u2060\u2060\u2060", id="word joiners"),
    pytest.param("\ufeff\ufeff", id="byte-order marks"),
    pytest.param("\u3164\u3164\u3164", id="hangul fillers"),
    pytest.param("\u115f\u1160\uffa0", id="other hangul fillers"),
    pytest.param("\u2800\u2800\u2800", id="braille blanks"),
    pytest.param("\u0301\u0308\u0301", id="combining marks alone"),
    pytest.param(" \u0301 \u0308 ", id="combining marks after spaces"),
    pytest.param("\x01\x02\x1b\x7f", id="control characters"),
    pytest.param("\u200e\u200f\u202e\u2066\u061c", id="direction marks"),
    pytest.param("\u00ad\u00ad", id="soft hyphens"),
    pytest.param("\u3000\u2003\u00a0\u200b\u3164", id="a mix with wide spaces"),
    pytest.param("A\u200b\u200b", id="one visible letter"),
]

NAME_REFUSED = "Имя должно быть от 2 до 50 символов"


def to(chat_id, text=None):
    return lambda c: str(c.data.get("chat_id")) == str(chat_id) and (text is None or text in c.text)


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_of_invisible_characters_is_refused_on_create_and_rename(make_user, name):
    user = make_user()
    with pytest.raises(InvalidInput):
        services.avatar_create(user=user, name=name, gender="female")
    assert not Avatar.objects.filter(user=user).exists()
    avatar = services.avatar_create(user=user, name="Аня", gender="female")
    with pytest.raises(InvalidInput):
        services.avatar_rename(user=user, avatar_id=avatar.pk, name=name)
    avatar.refresh_from_db()
    assert avatar.name == "Аня"


def test_names_are_saved_normalised(make_user):
    user = make_user()
    composed = "Ёлка"
    decomposed = unicodedata.normalize("NFD", composed)
    assert services.avatar_create(user=user, name=f"  {decomposed}\u200b ", gender="female").name == composed
    avatar = services.avatar_create(user=user, name="\u202eВера \u2060 в\u3000\u3000горах\ufeff", gender="female")
    assert avatar.name == "Вера в горах"
    family = "👨\u200d👩\u200d👧"  # the joiners of an emoji sequence are part of what is seen
    assert services.avatar_rename(user=user, avatar_id=avatar.pk, name=f"\u200d{family}\u200d").name == family
    # 50 visible characters fit, whatever invisible ones come with them; 51 do not.
    assert len(services.avatar_rename(user=user, avatar_id=avatar.pk, name="я\u200b" * 50).name) == 50
    with pytest.raises(InvalidInput):
        services.avatar_rename(user=user, avatar_id=avatar.pk, name="я" * 51)


@pytest.mark.django_db(transaction=True)
async def test_the_wizard_and_the_rename_screen_refuse_invisible_names_with_the_usual_reply(bot):
    uid = 6150
    bot.feed(updates.callback(uid, AvatarCb(action="new").pack()))
    await bot.wait_for("sendMessage", to(uid, "Как назовём"))
    names = [p.values[0] for p in INVISIBLE_NAMES]
    for n, name in enumerate(names, start=1):
        bot.feed(updates.message(uid, name))
        await bot.wait_for("sendMessage", to(uid, NAME_REFUSED), count=n)
    bot.feed(updates.message(uid, "Аня\u200b"))
    await bot.wait_for("sendMessage", to(uid, "Выберите пол"))  # a real name goes on to the next step

    user = await bot.orm(User.objects.get, telegram_id=uid)
    avatar = await bot.orm(services.avatar_create, user=user, name="Вера", gender="female")
    bot.feed(updates.callback(uid, AvatarCb(action="rename", avatar=avatar.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "новое имя"))
    for n, name in enumerate(names, start=len(names) + 1):
        bot.feed(updates.message(uid, name))
        await bot.wait_for("sendMessage", to(uid, NAME_REFUSED), count=n)
    assert (await bot.orm(Avatar.objects.get, pk=avatar.pk)).name == "Вера"
    assert not [c for c in bot.api.calls_of("sendMessage") if "Что-то пошло не так" in c.text]
