"""/start, the main menu, unknown input, blocked users (end to end against the fake Bot API)."""

import logging

import pytest

from accounts.models import User
from accounts.services import user_set_blocked
from botworker.callbacks import BalanceTopUp, Menu, MenuSection
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)

MENU = {Menu(section=s).pack() for s in (MenuSection.AVATARS, MenuSection.GENERATE, MenuSection.GALLERY,
                                          MenuSection.BALANCE, MenuSection.PROMO, MenuSection.HELP)}


def to(chat_id):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id)


@pytest.mark.parametrize("is_premium", [..., None], ids=["is_premium-absent", "is_premium-null"])
async def test_start_registers_a_new_user_and_shows_the_main_menu(bot_env, is_premium):
    frm = updates.tg_user(5001, first_name="Аня <b>", is_premium=is_premium)
    bot_env.feed(updates.message(5001, "/start", from_user=frm))
    call = await bot_env.wait_for("sendMessage", to(5001))
    assert "Привет, <b>Аня &lt;b&gt;</b>" in call.text
    assert call.data["parse_mode"] == "HTML"
    assert MENU <= set(call.callback_datas())
    user = await bot_env.orm(User.objects.get, telegram_id=5001)
    assert user.is_premium is False and user.first_name == "Аня <b>"


async def test_start_leaves_the_current_conversation_state(bot_env):
    bot_env.feed(updates.callback(5002, Menu(section=MenuSection.PROMO).pack()))
    await bot_env.wait_for("sendMessage", lambda c: to(5002)(c) and "Введите промокод" in c.text)
    bot_env.feed(updates.message(5002, "/start"))
    await bot_env.wait_for("sendMessage", lambda c: to(5002)(c) and "Привет" in c.text)
    bot_env.feed(updates.message(5002, "SOMECODE"))
    hint = await bot_env.wait_for("sendMessage", lambda c: to(5002)(c) and "не понимаю" in c.text)
    assert MENU <= set(hint.callback_datas())


async def test_unknown_callback_is_answered_logged_and_leads_to_the_menu(bot_env, caplog):
    caplog.set_level(logging.WARNING, logger="botworker.routers.fallback")
    bot_env.feed(updates.callback(5003, "no_such_button:42"))
    answer = await bot_env.wait_for("answerCallbackQuery")
    assert answer.data["text"] == "❌ Неизвестная команда. Используйте кнопки меню."
    menu = await bot_env.wait_for("sendMessage", to(5003))
    assert MENU <= set(menu.callback_datas())
    assert any("no_such_button:42" in r.getMessage() and "5003" in r.getMessage() for r in caplog.records)


async def test_unexpected_text_gets_a_short_hint(bot_env):
    bot_env.feed(updates.message(5004, "привет, бот"))
    call = await bot_env.wait_for("sendMessage", to(5004))
    assert call.text.startswith("❓ Я не понимаю")


async def test_blocked_user_gets_one_short_notice_and_nothing_else(bot_env, make_user):
    user = await bot_env.orm(make_user, telegram_id=5005)
    await bot_env.orm(user_set_blocked, user=user, blocked=True)
    bot_env.feed(updates.message(5005, "/start"), updates.callback(5005, BalanceTopUp().pack()))
    notice = await bot_env.wait_for("sendMessage", to(5005))
    alert = await bot_env.wait_for("answerCallbackQuery")
    await bot_env.idle()
    assert "ограничен" in notice.text and "ограничен" in alert.data["text"]
    assert len(bot_env.api.calls_of("sendMessage")) == 1
    assert not bot_env.api.calls_of("sendInvoice")


async def test_help_lists_the_commands(bot_env):
    bot_env.feed(updates.callback(5006, Menu(section=MenuSection.HELP).pack()))
    call = await bot_env.wait_for("sendMessage", to(5006))
    assert "/paysupport" in call.text and "/promo" in call.text
