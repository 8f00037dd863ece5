"""Messages held for their sending window, counted by campaign as the window waiter holds
them, published to Redis and the gauge about once a second, and read by `dispatch status`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import trio
import trio.testing

from dispatch.commands.status import read_snapshot
from dispatch.commands.status_view import OPEN
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.daemon.upkeep.waiting import WaitingPublisher, window_group
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.service import Simulator
from dispatch.store.redis import Redis
from dispatch.store.waiting import STALE_S, WindowWaiting
from tests.daemon.conftest import daemon_for
from tests.daemon.test_sending_policy import PARIS, REUNION, enqueue

T0 = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 05:00 in Paris


def message(campaign: str, number: str = "+33612000000", calls: int = 0) -> Message:
    return Message(campaign, b"1-0", number, None, calls=calls)


def gauge(metrics: DaemonMetrics, campaign: str) -> float | None:
    return metrics.registry.get_sample_value("dispatch_messages_waiting_for_window",
                                             {"campaign": campaign})


async def test_the_waiter_counts_what_each_campaign_has_parked(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter = WindowWaiter[Message](10, wall_clock=lambda: T0 + trio.current_time(),
                                   group=window_group)
    for campaign, due in (("a", 10), ("a", 20), ("b", 10), ("b", 1000)):
        assert waiter.park(message(campaign), T0 + due)
    assert waiter.park(message("a", calls=1), T0 + 5)  # a call waiting for its retry
    assert waiter.held_by() == {"a": 2, "b": 2}
    assert [m.campaign for m in waiter.remove_if(lambda m: m.campaign == "b" and
                                                 m.number.endswith("0"))] == ["b", "b"]
    assert waiter.held_by() == {"a": 2}
    send, receive = trio.open_memory_channel[list[Message]](10)
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(waiter.run, send)
            await trio.sleep(15)  # the retry (5) and a's first (10) are due
            assert waiter.held_by() == {"a": 1}
            await trio.sleep(10)
            assert waiter.held_by() == {}
            nursery.cancel_scope.cancel()
    released = 0
    while True:
        try:
            released += len(receive.receive_nowait())
        except trio.WouldBlock:
            break
    assert released == 3  # the retry too: counted apart, not held apart


async def test_a_release_cancelled_on_its_way_is_counted_again(
        autojump_clock: trio.testing.MockClock) -> None:
    waiter = WindowWaiter[Message](10, wall_clock=lambda: T0 + trio.current_time(),
                                   group=window_group)
    waiter.park(message("a"), T0 + 1)
    send, _receive = trio.open_memory_channel[list[Message]](0)  # nobody takes it
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(waiter.run, send)
            await trio.sleep(5)  # released, blocked handing it over
            assert waiter.held_by() == {}
            nursery.cancel_scope.cancel()
    assert waiter.held_by() == {"a": 1} and len(waiter) == 1


async def test_published_counts_are_summed_over_live_daemons_and_gauged(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    waiter = WindowWaiter[Message](10, group=window_group)
    metrics = DaemonMetrics()
    clock = [T0]
    publisher = WaitingPublisher(waiter, WindowWaiting(redis, keys, "d1"), metrics,
                                 wall_clock=lambda: clock[0])
    other = WindowWaiting(redis, keys, "d2")
    readers = WindowWaiting(redis, keys)
    for _ in range(3):
        waiter.park(message("c1"), T0 + 3600)
    waiter.park(message("c2"), T0 + 3600)
    with trio.fail_after(10):
        await publisher.publish_once()
        await other.publish({"c1": 5}, (), T0)
        assert await readers.read(["c1", "c2", "c3"], T0 + 1) == {"c1": 8, "c2": 1, "c3": 0}
        assert (gauge(metrics, "c1"), gauge(metrics, "c2")) == (3.0, 1.0)
        # c2's message is released; d2 stops publishing (it died): left out once stale.
        waiter.remove_if(lambda m: m.campaign == "c2")
        clock[0] = T0 + STALE_S
        await publisher.publish_once()
        assert await readers.read(["c1", "c2"], T0 + STALE_S) == {"c1": 3, "c2": 0}
        assert await redis.hgetall(keys.campaign("c2").waiting) == {}
        assert (gauge(metrics, "c1"), gauge(metrics, "c2")) == (3.0, None)
        ttl = await redis.pttl(keys.campaign("c1").waiting)
        assert 0 < ttl <= STALE_S * 1000  # gone by itself once no daemon writes


async def test_nothing_waiting_costs_no_round_trip(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    metrics = DaemonMetrics()
    publisher = WaitingPublisher(WindowWaiter[Message](10, group=window_group),
                                 WindowWaiting(redis, keys, "d1"), metrics)
    before = (await redis.info("stats"))["total_commands_processed"]
    with trio.fail_after(10):
        await publisher.publish_once()
    after = (await redis.info("stats"))["total_commands_processed"]
    assert int(str(after)) - int(str(before)) == 1  # the INFO above, nothing else


def open_in_paris_closed_in_reunion() -> str:
    """Two hours from this one in Paris: Réunion (two or three hours ahead) is past it."""
    hour = dt.datetime.now(ZoneInfo("Europe/Paris")).hour
    return f"mon-sun {hour:02d}:00-{min(hour + 2, 24):02d}:00"


async def test_a_running_daemon_publishes_what_waits_for_the_recipients_window(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, PARIS + REUNION,
                      window=open_in_paris_closed_in_reunion())
        await redis.hset(keys.campaign("c1").meta, {"holidays": "ignore"})
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            while (await read_snapshot(redis, keys, "c1")).progress["c1"].waiting \
                    < len(REUNION):
                await trio.sleep(0.05)
            progress = (await read_snapshot(redis, keys, "c1")).progress["c1"]
            waiting = gauge(daemon.metrics, "c1")
            daemon.stop()
    assert (progress.window, progress.waiting) == (OPEN, len(REUNION))
    assert waiting == len(REUNION)
    assert sim.stats()["accepted"] <= len(PARIS)
