"""Callback data the bot never drew (an outdated message, a forged client) gets a clean answer through the real
dispatcher: the callback is answered with the usual "unknown button" alert, nothing is charged, the
conversation is left as it was, and nothing is logged as an error."""

import logging
from decimal import Decimal

import pytest

from accounts.models import User
from billing.selectors import balance_get
from billing.services import balance_credit
from botworker.callbacks import GenCb, Menu, MenuSection
from generations.models import ImageGeneration
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN = "❌ Неизвестная команда. Используйте кнопки меню."
APOLOGY = "Что-то пошло не так"


def to(chat_id, text=None):
    return lambda c: str(c.data.get("chat_id")) == str(chat_id) and (text is None or text in c.text)


async def _press(bot, uid: int, data: str):
    """Tap a button with ``data``; returns the answer to the callback."""
    update = updates.callback(uid, data)
    bot.feed(update)
    query_id = update["callback_query"]["id"]
    answer = await bot.wait_for("answerCallbackQuery", lambda c: c.data["callback_query_id"] == query_id)
    await bot.idle()
    return answer


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_malformed_image_count_is_refused_without_a_charge_and_the_real_buttons_still_work(
        bot, ready_avatar, style_catalogue, caplog):
    uid = 6301
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    await bot.orm(balance_credit, user=user, amount="100", created_by="test")
    await bot.orm(ready_avatar, user)
    await _press(bot, uid, Menu(section=MenuSection.GENERATE).pack())
    for action, value in (("template", "office_ceo"), ("ratio", "3x4")):
        await _press(bot, uid, GenCb(action=action, value=value).pack())
    await bot.wait_for("sendMessage", to(uid, "Сколько"))

    # 0 and -1 images, more than the maximum, not a number, an overflow, digits of other scripts, blanks.
    for count in ("0", "-1", "5", "999", "abc", "9" * 50, "²", "١", "４", "", " 1", "1.0", "0x1"):
        answer = await _press(bot, uid, f"gen:count:{count}")
        assert answer.data.get("text") == UNKNOWN and answer.data.get("show_alert") in (True, "true"), count
    assert await bot.orm(ImageGeneration.objects.filter(user=user).count) == 0
    assert await bot.orm(balance_get, user=user) == Decimal("100")

    answer = await _press(bot, uid, GenCb(action="count", value="2").pack())  # the flow is still there
    generation = await bot.orm(ImageGeneration.objects.get, user=user)
    assert generation.num_images == 2 and await bot.orm(balance_get, user=user) < Decimal("100")
    assert not _errors(caplog)
    assert not [c for c in bot.api.calls_of("sendMessage") if APOLOGY in c.text]


# Every kind of button with a field of the wrong type or shape: control characters (NUL reaches PostgreSQL as an
# error), numbers that are not numbers, enum values that do not exist, missing or extra fields.
MALFORMED = [
    "gen:category:\x00", "gen:subcategory:\x00", "gen:template:\x00", "gen:avatar:\x00", "gen:ratio:\x1b",
    "gen:\x00:", "gen", "gen:count", "gen:count:1:2",
    "gal:page:abc:", "gal:page:1e3:", "gal:favorite:0:\x00", "gal:again:0:\x00", "gal:delete_ok:0:\x00", "gal:page",
    "av:main:\x00:0", "av:review:ab:cd", "av:list::1.5", "av:rename:\x7f:0", "av:new", "avg:\x00", "avt:\x1b",
    "menu:nosuch", "menu:", "topup_pkg:abc", "topup_pkg:", "ledger:abc", "ledger:1.5", "balance_top_up:x",
    "balance_topup:1", "nosuchprefix:1",
]
# Well-formed but naming nothing: refused by the handler's own check, still without an error.
NAMING_NOTHING = [
    "gal:page:99999999999999999999999:", "gal:page:-999999999999:", "av:list::-99999999999999999999",
    "ledger:99999999999999999999999", "ledger:-1", "topup_pkg:99999999999999999999999", "topup_pkg:0",
    "gen:template:" + "x" * 50, "gen:avatar:zz", "av:delete_ok:zz:0", "gal:delete_ok:0:zz",
]


async def test_any_malformed_button_gets_the_unknown_button_answer_and_no_error(bot, caplog):
    uid = 6302
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    for data in MALFORMED:
        answer = await _press(bot, uid, data)
        assert answer.data.get("text") == UNKNOWN and answer.data.get("show_alert") in (True, "true"), repr(data)
    for data in NAMING_NOTHING:
        await _press(bot, uid, data)
    assert not _errors(caplog)
    assert not [c for c in bot.api.calls_of("sendMessage") if APOLOGY in c.text]
