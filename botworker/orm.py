"""The one way the bot reaches the ORM: a whole service or selector call on Django's thread-sensitive executor.

The bot worker has no request cycle, so Django never closes a connection that the database dropped (a restart,
a failover) or that has outlived ``CONN_MAX_AGE``. ``close_old_connections()`` does, on the thread where the ORM
runs: at the start of each update, in the same hop as the update's first ORM call (so a menu tap costs one
thread hop, not three), and again at its end when connections are not kept (``CONN_MAX_AGE=0``: closed, or
handed back to the psycopg pool). ``runbot`` keeps its connection between updates (``keep_connections``): after a
database restart the first statement on the dead connection fails, that update is retried by the poller (an
infrastructure failure, ``botworker.polling``), and the retry's ``close_old_connections()`` finds the connection
unusable and reconnects, so no update is lost. ``CONN_HEALTH_CHECKS`` would instead spend a ``SELECT 1`` round trip
before every update (~30 % of the ORM thread's time in bench/bot_throughput) to save that one retry; it is a
setting (``BOT_CONN_HEALTH_CHECKS``). Calls made outside an update (a test, a startup hook) close stale
connections around each call.
"""

from collections.abc import Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

P = ParamSpec("P")
R = TypeVar("R")


class _Update:
    """Set while an update is handled: the calls inside it share one connection instead of opening one each."""

    __slots__ = ("checked",)

    def __init__(self) -> None:
        self.checked = False  # close_old_connections() already ran on the ORM thread for this update


_in_update: ContextVar[_Update | None] = ContextVar("botworker_in_update", default=None)


def _fresh(func: Callable[P, R], args, kwargs) -> R:
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


def _checked(func: Callable[P, R], args, kwargs) -> R:
    close_old_connections()
    return func(*args, **kwargs)


async def db(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``await db(services.balance_credit, user=..., amount=...)``."""
    update = _in_update.get()
    if update is None:
        return await sync_to_async(_fresh, thread_sensitive=True)(func, args, kwargs)
    if not update.checked:
        update.checked = True
        return await sync_to_async(_checked, thread_sensitive=True)(func, args, kwargs)
    return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)


def keep_connections(max_age: int, *, health_checks: bool = False) -> None:
    """The bot worker's connection policy (``runbot``): keep each connection up to ``max_age`` seconds between
    updates (0: never); ``health_checks``: check it (``SELECT 1``) before an update uses it. With the psycopg pool
    (``DATABASE_POOL_MAX``) the pool keeps them, ``CONN_MAX_AGE`` stays 0 as Django requires, and the pool's
    check stays on (Django checks pooled connections only with health checks)."""
    for alias in connections:
        for conf in {id(d): d for d in (connections.settings[alias], connections[alias].settings_dict)}.values():
            pooled = bool(conf.get("OPTIONS", {}).get("pool"))
            conf["CONN_MAX_AGE"] = 0 if pooled else max_age
            conf["CONN_HEALTH_CHECKS"] = health_checks or pooled


def connections_kept() -> bool:
    """True when connections outlive an update (``CONN_MAX_AGE`` > 0 on every database)."""
    return all(connections[alias].settings_dict.get("CONN_MAX_AGE") != 0 for alias in connections)


@asynccontextmanager
async def update_scope():
    """Around one update: stale connections closed before its first ORM call and, unless kept, after it. Nested
    (the webhook's request around the dispatcher's middleware) the outer scope does it once."""
    if _in_update.get() is not None:
        yield
        return
    update = _Update()
    token = _in_update.set(update)
    try:
        yield
    finally:
        _in_update.reset(token)
        if update.checked and not connections_kept():
            await close_stale_connections()


async def close_stale_connections() -> None:
    await sync_to_async(close_old_connections, thread_sensitive=True)()
