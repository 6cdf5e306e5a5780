"""aiogram FSM storage in the database (``accounts.UserState``), so a restart keeps every conversation.

One row per user: ``state_data = {"state": "...", "data": {...}}``. Keyed by the Telegram user (the bot talks in
private chats only), so ``StorageKey.chat_id`` and ``thread_id`` are not part of the key.

Within an update the state is not read again: ``UserMiddleware`` reads the user's row together with the user
(``preload_state``), and the storage answers from that copy for this update (kept up to date by its own writes).
So aiogram's FSM middleware, which reads the state for every update, costs no query, and clearing a state that
is not set (``/start``, the main menu) costs none either. Outside an update (or for another user) it reads the row.
"""

import logging
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User, UserState
from botworker.orm import db

logger = logging.getLogger(__name__)

# This update's copy of its user's ``state_data``: (telegram id, state_data). Set by ``preload_state``.
_preloaded: ContextVar[tuple[int, dict] | None] = ContextVar("botworker_fsm_preloaded", default=None)


def preload_state(telegram_id: int, state_data: dict | None) -> Token:
    """Remember the user's ``state_data`` as read with the user at the start of this update (None: no row);
    ``reset_preloaded_state(token)`` when the update is done."""
    return _preloaded.set((telegram_id, dict(state_data) if isinstance(state_data, dict) else {}))


def reset_preloaded_state(token: Token) -> None:
    _preloaded.reset(token)


def _cached(telegram_id: int) -> dict | None:
    preloaded = _preloaded.get()
    return preloaded[1] if preloaded is not None and preloaded[0] == telegram_id else None


def _meaningful(state_data: dict) -> dict:
    """``state_data`` without empty entries: no row, ``{"state": None}`` and ``{"data": {}}`` all mean the same."""
    return {name: value for name, value in state_data.items() if value}


def _load(telegram_id: int) -> dict:
    row = UserState.objects.filter(user__telegram_id=telegram_id).values_list("state_data", flat=True).first()
    return row if isinstance(row, dict) else {}


def _store(telegram_id: int, changes: dict) -> dict:
    """Write ``changes`` into the user's row; returns the row's ``state_data`` as it now is."""
    with transaction.atomic():
        # Locked read-modify-write: the state and the data are written separately and must not undo each other.
        row = UserState.objects.select_for_update(of=("self",)).filter(user__telegram_id=telegram_id).first()
        if row is None:
            if not any(changes.values()):
                return {}  # clearing a state that was never set: nothing to write
            row = _create(telegram_id, changes)
            if row is None:
                return {}
        state_data = dict(row.state_data or {}) | changes
        if state_data == row.state_data:
            return state_data
        row.state_data = state_data
        row.updated_at = timezone.now()
        row.save(update_fields=["state_data", "updated_at"])
        return state_data


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
        await self._write(key.user_id, {"state": value})

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(key.user_id)).get("state")

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key.user_id, {"data": dict(data)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._read(key.user_id)).get("data") or {})

    @staticmethod
    async def _read(telegram_id: int) -> dict:
        cached = _cached(telegram_id)
        return cached if cached is not None else await db(_load, telegram_id)

    @staticmethod
    async def _write(telegram_id: int, changes: dict) -> None:
        cached = _cached(telegram_id)
        if cached is not None and _meaningful(cached | changes) == _meaningful(cached):
            return  # nothing changes (clearing a state that is not set)
        state_data = await db(_store, telegram_id, changes)
        if cached is not None:
            cached.clear()
            cached.update(state_data)

    async def close(self) -> None:
        pass
