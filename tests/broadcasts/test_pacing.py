"""What the broadcast limiter schedules (``broadcasts.sender.Pacer``), with a real stall of the event
loop in the middle of a slot. The assertions count the moments the limiter let sends go, which a busy machine
can only make fewer or later (a late turn is given up), never denser: they hold under any load."""

import asyncio
import time
from datetime import timedelta

from django.utils import timezone

from broadcasts.conf import send_interval
from broadcasts.sender import Pacer
from tests.support.rates import max_in_any_second

RATE = 30


def _turns(slots: list[int], *, stall_after: float, stall: float) -> list:
    """Take every turn of consecutive slots of the shared schedule (one ``Pacer`` per batch, as workers do) while
    the event loop is blocked for ``stall`` seconds once; returns what each turn gave (a moment or None)."""

    async def run():
        interval = send_interval()
        start, pacers = timezone.now(), []
        for count in slots:
            pacers.append((Pacer(interval=interval, start_at=start, count=count), count))
            start += timedelta(seconds=count * interval)
        asyncio.get_running_loop().call_later(stall_after, time.sleep, stall)  # a GC pause, a busy host
        return await asyncio.gather(*(pacer.turn() for pacer, count in pacers for _ in range(count)))

    return asyncio.run(run())


def test_turns_that_come_during_a_stall_are_given_up_not_sent_late(settings):
    settings.BROADCAST_RATE_PER_SECOND = RATE
    turns = _turns([60], stall_after=0.3, stall=0.5)
    taken = [t for t in turns if t is not None]
    assert max_in_any_second(taken) <= RATE
    assert None in turns  # the turns slept through


def test_a_stall_across_two_workers_slots_keeps_the_rate_over_both(settings):
    settings.BROADCAST_RATE_PER_SECOND = RATE
    turns = _turns([20, 40], stall_after=0.5, stall=0.6)  # the first slot ends at 0.7 s, inside the stall
    taken = [t for t in turns if t is not None]
    assert max_in_any_second(taken) <= RATE
    assert None in turns[:20] and None in turns[20:]
