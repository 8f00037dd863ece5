"""LineFeed on its own: campaign status applied to the scheduler, and the line gauges."""

from __future__ import annotations

import trio
import trio.testing

from dispatch.daemon.campaigns import Campaign
from dispatch.daemon.line_feed import LineFeed, LinePlan
from dispatch.daemon.messages import Message
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.lines.config import GatewayCaps, parse_lines_config
from dispatch.model import ACTIVE, CANCELLED, PAUSED
from dispatch.policy.sending import send_policy

POOLS = parse_lines_config({"pools": {"p": {
    "gateway": "gw", "rate": 1, "lines": [{"numbers": ["L1", "L2", "L3"]}]}}})


class Book:
    """The one thing LineFeed.apply reads from the campaign book."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    def status_of(self, campaign: str) -> str:
        return self.status.get(campaign, ACTIVE)


def feed_with(count: int, campaign: str = "c1") -> LineFeed:
    feed = LineFeed("gw", LinePlan(list(POOLS.pools.values()), GatewayCaps()))
    spec = Campaign(campaign, "gw", "", "stream", lambda values: "text", send_policy({}),
                    pool="p")
    feed.push(spec, [Message(campaign, f"{i}-0".encode(), f"+3361000000{i}", None)
                     for i in range(count)])
    return feed


async def test_line_gauges_read_the_scheduler_when_scraped() -> None:
    feed = feed_with(5)
    metrics = DaemonMetrics()
    metrics.watch_lines("gw", feed.scheduler, feed.pools)
    taken = feed.scheduler.take(0.0, 2)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("dispatch_lines", pool="p") == 3
    assert sample("dispatch_lines_busy", pool="p") == 2
    assert sample("dispatch_messages_waiting_for_line", gateway="gw") == 3
    feed.release(taken[0][1])
    assert sample("dispatch_lines_busy", pool="p") == 1


async def test_pause_keeps_messages_out_of_lines_and_cancel_hands_them_back() -> None:
    feed, book = feed_with(4), Book()
    book.status["c1"] = PAUSED
    assert feed.apply(book) == []  # type: ignore[arg-type]
    assert feed.scheduler.take(0.0, 10) == []
    assert feed.paused_held() == 4
    book.status["c1"] = ACTIVE
    feed.apply(book)  # type: ignore[arg-type]
    assert len(feed.scheduler.take(0.0, 1)) == 1
    book.status["c1"] = CANCELLED
    dropped = feed.apply(book)  # type: ignore[arg-type]
    assert [m.number for m in dropped] == [f"+3361000000{i}" for i in (1, 2, 3)]
    assert feed.scheduler.queued == 0 and feed.paused_held() == 0


async def test_room_for_what_the_leased_lines_send_in_two_seconds(
        autojump_clock: trio.testing.MockClock) -> None:
    feed = feed_with(6)  # 3 lines at 1/s: room below 6 queued
    with trio.move_on_after(1.0) as blocked:
        await feed.wait_room()
    assert blocked.cancelled_caught
    feed.scheduler.take(0.0, 1)
    with trio.fail_after(1.0):
        await feed.wait_room()
    feed.scheduler.set_leased("p", range(3), False, 0.0)  # no lines: no room at all
    feed.scheduler.cancel("c1")
    with trio.move_on_after(1.0) as blocked:
        await feed.wait_room()
    assert blocked.cancelled_caught
