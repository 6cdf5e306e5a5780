"""The one way the bot reaches the ORM: a whole service or selector call on Django's thread-sensitive executor.

The bot worker has no request cycle, so Django never closes a connection that the database dropped (a restart,
a failover). Closing stale connections before and after each call, on the thread where the ORM runs, makes the
next call reconnect instead of failing with "connection already closed" forever.
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def _fresh(func: Callable[P, R], args, kwargs) -> R:
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()


async def db(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``await db(services.balance_credit, user=..., amount=...)``."""
    return await sync_to_async(_fresh, thread_sensitive=True)(func, args, kwargs)


async def close_stale_connections() -> None:
    await sync_to_async(close_old_connections, thread_sensitive=True)()
