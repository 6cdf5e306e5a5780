"""aiogram FSM storage in the database (``accounts.UserState``), so a restart keeps every conversation.

One row per user: ``state_data = {"state": "...", "data": {...}}``. Keyed by the Telegram user (the bot talks in
private chats only), so ``StorageKey.chat_id`` and ``thread_id`` are not part of the key.
"""

import logging
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User, UserState
from botworker.orm import db

logger = logging.getLogger(__name__)


def _load(telegram_id: int) -> dict:
    row = UserState.objects.filter(user__telegram_id=telegram_id).values_list("state_data", flat=True).first()
    return row if isinstance(row, dict) else {}


def _store(telegram_id: int, changes: dict) -> None:
    with transaction.atomic():
        # Locked read-modify-write: the state and the data are written separately and must not undo each other.
        row = UserState.objects.select_for_update(of=("self",)).filter(user__telegram_id=telegram_id).first()
        if row is None:
            if not any(changes.values()):
                return  # clearing a state that was never set (every /start): nothing to write
            row = _create(telegram_id, changes)
            if row is None:
                return
        state_data = dict(row.state_data or {}) | changes
        if state_data == row.state_data:
            return
        row.state_data = state_data
        row.updated_at = timezone.now()
        row.save(update_fields=["state_data", "updated_at"])


def _create(telegram_id: int, changes: dict) -> UserState | None:
    """The user's row holding ``changes``; None when there is no such user. Called inside a transaction."""
    user_id = User.objects.filter(telegram_id=telegram_id).values_list("pk", flat=True).first()
    if user_id is None:
        logger.warning("No user %s to keep conversation state for; state not saved", telegram_id)
        return None
    try:
        with transaction.atomic():
            return UserState.objects.create(user_id=user_id, state_data=dict(changes))
    except IntegrityError:
        # A concurrent update of the same user created it first: lock theirs, merge into it.
        return UserState.objects.select_for_update().get(user_id=user_id)


class DatabaseStorage(BaseStorage):
    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await db(_store, key.user_id, {"state": value})

    async def get_state(self, key: StorageKey) -> str | None:
        return (await db(_load, key.user_id)).get("state")

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await db(_store, key.user_id, {"data": dict(data)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await db(_load, key.user_id)).get("data") or {})

    async def close(self) -> None:
        pass
