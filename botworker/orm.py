"""The one way the bot reaches the ORM: a whole service or selector call on Django's thread-sensitive executor.

The bot worker has no request cycle, so Django never closes a connection that the database dropped (a restart,
a failover). ``DatabaseConnectionMiddleware`` closes stale connections before and after each update, on the
thread where the ORM runs, so the next update reconnects instead of failing with "connection already closed"
forever. Calls made outside an update (a test, a startup hook) do the same around each call.
"""

from collections.abc import Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")

# Set while an update is handled: the middleware already closes stale connections around the whole update, so
# the calls inside it share one connection instead of opening one each.
_in_update: ContextVar[bool] = ContextVar("botworker_in_update", default=False)


def _fresh(func: Callable[P, R], args, kwargs) -> R:
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


async def db(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``await db(services.balance_credit, user=..., amount=...)``."""
    if _in_update.get():
        return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)
    return await sync_to_async(_fresh, thread_sensitive=True)(func, args, kwargs)


@asynccontextmanager
async def update_scope():
    """Around one update: stale connections closed before and after, on the ORM thread."""
    await close_stale_connections()
    token = _in_update.set(True)
    try:
        yield
    finally:
        _in_update.reset(token)
        await close_stale_connections()


async def close_stale_connections() -> None:
    await sync_to_async(close_old_connections, thread_sensitive=True)()
