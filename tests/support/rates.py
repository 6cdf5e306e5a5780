"""Counting sends per second (the broadcast rate tests)."""

from __future__ import annotations

from datetime import datetime


def max_in_any_second(times: list[float] | list[datetime]) -> int:
    """The most moments that fall in any half-open one-second window (seconds as floats, or datetimes)."""
    seconds = sorted(t.timestamp() if isinstance(t, datetime) else t for t in times)
    best, start = 0, 0
    for end, t in enumerate(seconds):
        while t - seconds[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best
