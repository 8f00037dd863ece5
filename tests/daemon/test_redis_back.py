"""After a Redis outage every task waiting it out resumes as soon as Redis answers again,
not at the end of a backoff grown to 5 s (resilience.REDIS_BACK); calls made side by side
that all lose Redis are an outage too, not a bug."""

from __future__ import annotations

import coredis
import pytest
import trio
import trio.testing

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import RedisBack, with_redis_retry


async def test_a_sleeper_wakes_when_redis_answers(autojump_clock: trio.testing.MockClock
                                                  ) -> None:
    back = RedisBack()
    woke: list[float] = []

    async def sleeper() -> None:
        await back.sleep(5.0)
        woke.append(trio.current_time())

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            nursery.start_soon(sleeper)
            await trio.sleep(0.5)
            back.answered()
    assert woke == [0.5, 0.5]


async def test_without_news_the_sleep_lasts_its_time(autojump_clock: trio.testing.MockClock
                                                     ) -> None:
    back = RedisBack()
    back.answered()  # before anyone waits: nothing to wake, nothing kept
    with trio.fail_after(10):
        await back.sleep(2.0)
        await back.sleep(-0.5)  # a deadline already past (a lease cycle that ran long)
    assert trio.current_time() == 2.0



async def test_lookups_side_by_side_losing_redis_are_waited_out(
        autojump_clock: trio.testing.MockClock) -> None:
    # STOPs looked up side by side in a task group during an outage: the group of
    # connection errors is a Redis outage like one error (it was a traceback per request).
    calls = 0

    async def lookups() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ExceptionGroup("lookups", [coredis.exceptions.ConnectionError("lost"),
                                             coredis.exceptions.ConnectionError("lost")])
        return "recorded"

    metrics = DaemonMetrics()
    with trio.fail_after(30):
        assert await with_redis_retry("lookups", lookups, metrics) == "recorded"
    assert calls == 3
    assert metrics.redis_errors.labels("lookups")._value.get() == 2


async def test_a_group_with_anything_but_redis_errors_is_a_bug_raised() -> None:
    async def broken() -> None:
        raise ExceptionGroup("lookups", [coredis.exceptions.ConnectionError("lost"),
                                         ValueError("a bug")])

    metrics = DaemonMetrics()
    with trio.fail_after(5), pytest.raises(ExceptionGroup):
        await with_redis_retry("lookups", broken, metrics)
