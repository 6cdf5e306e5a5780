"""The balance screen: the balance, the recent ledger entries and their details, and the top-up button."""

import pytest

from billing.models import TransactionType
from billing.services import balance_credit
from botworker.callbacks import BalanceTopUp, LedgerEntry, Menu, MenuSection
from botworker.keyboards import top_up_button
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


def to(chat_id, contains=""):
    return lambda call: str(call.data.get("chat_id")) == str(chat_id) and contains in call.text


def flag(value) -> bool:
    """Booleans arrive form-encoded ("true"/"false")."""
    return value in (True, "true")


def test_the_top_up_button_packs_to_the_legacy_callback_data():
    assert BalanceTopUp().pack() == "balance_top_up"
    assert top_up_button().callback_data == "balance_top_up"


async def test_balance_screen_shows_balance_recent_entries_and_the_top_up_button(bot_env, make_user):
    user = await bot_env.orm(make_user, telegram_id=6001)
    await bot_env.orm(balance_credit, user=user, amount="42", type=TransactionType.ADMIN_TOPUP)
    bot_env.feed(updates.callback(6001, Menu(section=MenuSection.BALANCE).pack()))
    call = await bot_env.wait_for("sendMessage", to(6001))
    assert "Ваш баланс: 42 монет" in call.text
    assert "+42" in call.text
    assert "balance_top_up" in call.callback_datas()
    assert bot_env.api.calls_of("answerCallbackQuery")


async def test_a_forged_ledger_entry_callback_of_another_user_is_refused(bot_env, make_user):
    owner = await bot_env.orm(make_user, telegram_id=6009)
    entry = await bot_env.orm(balance_credit, user=owner, amount="10", type=TransactionType.ADMIN_TOPUP)
    bot_env.feed(updates.callback(6010, LedgerEntry(entry_id=entry.pk).pack()))
    answer = await bot_env.wait_for("answerCallbackQuery")
    assert answer.data["text"] == "Операция не найдена." and flag(answer.data["show_alert"])
    await bot_env.idle()
    assert not bot_env.api.calls_of("sendMessage")
    bot_env.feed(updates.callback(6009, LedgerEntry(entry_id=entry.pk).pack()))
    details = await bot_env.wait_for("sendMessage", to(6009))
    assert f"Операция #{entry.pk}" in details.text and "+10" in details.text
