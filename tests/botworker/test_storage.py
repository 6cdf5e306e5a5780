"""The FSM storage keeps state and data per user in ``accounts.UserState``."""

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from accounts.models import UserState
from botworker.orm import db
from botworker.storage import DatabaseStorage

pytestmark = pytest.mark.django_db(transaction=True)


class Wizard(StatesGroup):
    name = State()


def key(user_id: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)


async def test_state_and_data_are_stored_together_and_survive_a_new_storage(make_user):
    await db(make_user, telegram_id=4201)
    storage = DatabaseStorage()
    await storage.set_state(key(4201), Wizard.name)
    await storage.update_data(key(4201), {"avatar_id": "abc", "photos": 3})
    await storage.update_data(key(4201), {"photos": 4})

    fresh = DatabaseStorage()  # a restarted worker
    assert await fresh.get_state(key(4201)) == "Wizard:name"
    assert await fresh.get_data(key(4201)) == {"avatar_id": "abc", "photos": 4}
    row = await db(UserState.objects.get, user__telegram_id=4201)
    assert row.state_data == {"state": "Wizard:name", "data": {"avatar_id": "abc", "photos": 4}}

    await fresh.set_state(key(4201), None)
    await fresh.set_data(key(4201), {})
    assert await fresh.get_state(key(4201)) is None and await fresh.get_data(key(4201)) == {}


async def test_users_do_not_see_each_others_state(make_user):
    await db(make_user, telegram_id=4202)
    await db(make_user, telegram_id=4203)
    storage = DatabaseStorage()
    await storage.set_state(key(4202), Wizard.name)
    assert await storage.get_state(key(4203)) is None
    assert await storage.get_data(key(4203)) == {}


async def test_an_unknown_user_has_no_state_and_nothing_is_written():
    storage = DatabaseStorage()
    await storage.set_state(key(4299), Wizard.name)
    assert await storage.get_state(key(4299)) is None
    assert not await db(UserState.objects.exists)
