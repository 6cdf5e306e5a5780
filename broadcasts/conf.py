"""The broadcast settings and the numbers derived from them, read at call time (tests change the settings)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

# Messages leave 5% slower than the configured rate: network jitter bunches them on arrival, and the rate is
# Telegram's ceiling, not a target.
PACE_MARGIN = 0.95


# A slot claimed while the schedule is idle begins this far ahead (at least), so that the worker is ready when it
# begins: turns already past when it starts sending are lost (their rows wait for another batch).
SLOT_LEAD = 0.05


def rate_per_second() -> float:
    return float(getattr(settings, "BROADCAST_RATE_PER_SECOND", 30))


def send_interval() -> float:
    """Seconds between two message starts, over all workers."""
    return 1.0 / (rate_per_second() * PACE_MARGIN)


def batch_size() -> int:
    return int(getattr(settings, "BROADCAST_BATCH_SIZE", 50))


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "BROADCAST_STALE_SENDING_SECONDS", 600)))


def link_seconds() -> float:
    """How long one delivery link sends before it hands over to the next one."""
    return float(getattr(settings, "BROADCAST_TASK_SECONDS", 60))
