from __future__ import annotations

import pytest
import trio
import trio.testing

from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.retrier import Retrier


def message(number: str) -> Message:
    return Message("c", number.encode(), number, None)


async def test_messages_come_back_in_due_order_at_their_time(
        autojump_clock: trio.testing.MockClock) -> None:
    retrier = Retrier()
    send, receive = trio.open_memory_channel[Message](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(retrier.run, {"gw": send})
        start = trio.current_time()
        retrier.schedule("gw", message("+1"), 5.0)
        retrier.schedule("gw", message("+2"), 1.0)
        first = await receive.receive()
        assert first.number == "+2"
        assert trio.current_time() - start == 1.0
        second = await receive.receive()
        assert second.number == "+1"
        assert trio.current_time() - start == 5.0
        assert len(retrier) == 0
        nursery.cancel_scope.cancel()


async def feed_accepted(retrier: Retrier, per_second: int) -> None:
    """The gateway accepts `per_second` messages a second, one every 1/per_second s."""
    while True:
        retrier.accepted("gw", 1)
        await trio.sleep(1 / per_second)


async def release_times(retrier: Retrier, count: int, after_s: float
                        ) -> list[float]:
    """Schedule `count` throttled messages at once; when each comes back (from now)."""
    send, receive = trio.open_memory_channel[Message](count)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(retrier.run, {"gw": send})
        start = trio.current_time()
        for i in range(count):
            retrier.schedule_throttled("gw", message(f"+{i}"), after_s)
        times = []
        for _ in range(count):
            await receive.receive()
            times.append(trio.current_time() - start)
        nursery.cancel_scope.cancel()
    return times


async def test_throttled_messages_come_back_at_the_accepted_pace_not_backed_off(
        autojump_clock: trio.testing.MockClock) -> None:
    """Accepted 100/s: 100 throttled messages come back after the gateway's hint, spaced
    1/(headroom x 100) s apart, the last within half a second more: a pace, whatever how
    many there are, not a wait growing per message."""
    retrier = Retrier()
    pace = retrier.pace("gw")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed_accepted, retrier, 100)
        await trio.sleep(5)  # the measured rate settles
        times = await release_times(retrier, 100, 1.0)
        nursery.cancel_scope.cancel()
    burst = int(100 * pace.headroom * pace.burst_s)
    assert times[0] == pytest.approx(1.0)  # the hint, then at once (its burst)
    spacing = [later - earlier
               for earlier, later in zip(times[burst:-1], times[burst + 1:], strict=True)]
    assert spacing == pytest.approx([1 / (pace.headroom * 100)] * len(spacing), rel=0.05)
    assert times[-1] < 1.5


async def released_while_accepting(per_second: int) -> list[float]:
    """When 40 throttled messages go back while the gateway accepts `per_second`."""
    retrier = Retrier()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed_accepted, retrier, per_second)
        await trio.sleep(5)
        times = await release_times(retrier, 40, 0.0)
        nursery.cancel_scope.cancel()
    return times


async def test_the_pace_follows_the_accepted_rate(
        autojump_clock: trio.testing.MockClock) -> None:
    slow = await released_while_accepting(50)
    fast = await released_while_accepting(200)
    assert slow[-1] - slow[10] == pytest.approx(4 * (fast[-1] - fast[10]), rel=0.1)


async def test_throttled_messages_go_at_the_floor_pace_when_nothing_is_accepted(
        autojump_clock: trio.testing.MockClock) -> None:
    retrier = Retrier()
    times = await release_times(retrier, 21, 0.0)
    assert times[-1] == pytest.approx(20 / retrier.pace("gw").floor, rel=0.05)
