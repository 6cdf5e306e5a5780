"""Log a message once per process, however often the code that notices it runs (a missing setting noticed at start
and again on every call)."""

from __future__ import annotations

import logging
import threading

_logged: set[str] = set()
_lock = threading.Lock()


def log_once(logger: logging.Logger, level: int, key: str, message: str, *args) -> bool:
    """Log ``message % args`` unless a message with ``key`` was logged in this process; returns whether it did."""
    with _lock:
        if key in _logged:
            return False
        _logged.add(key)
    logger.log(level, message, *args)
    return True
