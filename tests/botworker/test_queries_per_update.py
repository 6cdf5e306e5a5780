"""SQL per update through the real dispatcher (issue 18): a known user's menu tap reads the user, the conversation
state and the balance in one query and writes nothing; clearing a state that is not set costs no query."""

from decimal import Decimal

import pytest

from accounts.services import user_upsert_from_telegram
from billing.models import TransactionType
from billing.services import balance_credit
from botworker.callbacks import Menu, MenuSection
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


class Statements:
    """The SQL the bot's ORM thread runs (an execute wrapper on that thread's connection)."""

    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


@pytest.fixture
async def statements(bot_env):
    from django.db import connection

    recorder = Statements()
    # Resolved on the ORM thread: each thread has its own connection.
    await bot_env.orm(lambda: connection.execute_wrappers.append(recorder))
    yield recorder
    await bot_env.orm(lambda: connection.execute_wrappers.remove(recorder))


def known_user(telegram_id: int) -> None:
    # The profile the test updates carry (tests.support.updates.tg_user): nothing for the bot's upsert to change.
    user = user_upsert_from_telegram(telegram_id=telegram_id, first_name="Тест", language_code="ru")
    balance_credit(user=user, amount=Decimal("150"), type=TransactionType.BONUS, created_by="test")


def to(chat_id, text):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and text in call.text


@pytest.mark.parametrize("section", [MenuSection.MAIN, MenuSection.HELP])
async def test_a_known_users_menu_tap_costs_at_most_two_statements_and_no_write(bot_env, statements, section):
    await bot_env.orm(known_user, 6101)
    statements.sql.clear()
    bot_env.feed(updates.callback(6101, Menu(section=section).pack()))
    await bot_env.wait_for("sendMessage", lambda call: str(call.data.get("chat_id")) == "6101")
    await bot_env.idle()
    assert 1 <= len(statements.sql) <= 2, statements.sql
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in statements.sql), statements.sql


async def test_the_main_menu_shows_the_balance_read_with_the_user(bot_env, statements):
    await bot_env.orm(known_user, 6102)
    statements.sql.clear()
    bot_env.feed(updates.callback(6102, Menu(section=MenuSection.MAIN).pack()))
    menu = await bot_env.wait_for("sendMessage", lambda call: str(call.data.get("chat_id")) == "6102")
    assert any("150" in button["text"] for button in menu.buttons()), menu.buttons()
    assert len(statements.sql) == 1, statements.sql


async def test_a_known_users_start_without_a_conversation_costs_one_statement(bot_env, statements):
    await bot_env.orm(known_user, 6103)
    statements.sql.clear()
    bot_env.feed(updates.message(6103, "/start"))
    await bot_env.wait_for("sendMessage", to(6103, "Привет"))
    await bot_env.idle()
    assert len(statements.sql) == 1, statements.sql


async def test_start_in_the_middle_of_a_conversation_still_clears_it(bot_env, statements):
    from accounts.models import UserState

    await bot_env.orm(known_user, 6104)
    bot_env.feed(updates.callback(6104, Menu(section=MenuSection.PROMO).pack()))
    await bot_env.wait_for("sendMessage", to(6104, "Введите промокод"))
    await bot_env.idle()
    state = await bot_env.orm(UserState.objects.get, user__telegram_id=6104)
    assert state.state_data.get("state")
    bot_env.feed(updates.message(6104, "/start"))
    await bot_env.wait_for("sendMessage", to(6104, "Привет"))
    await bot_env.idle()
    state = await bot_env.orm(UserState.objects.get, user__telegram_id=6104)
    assert not state.state_data.get("state")
