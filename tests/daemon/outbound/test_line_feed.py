"""LineFeed on its own: campaign status and share applied to the scheduler, and the line
gauges."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from dispatch.daemon.campaigns import Campaign
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.line_feed import LineFeed, LinePlan
from dispatch.daemon.outbound.messages import Message
from dispatch.lines.config import GatewayCaps, parse_lines_config
from dispatch.model import ACTIVE, CANCELLED, PAUSED, Share
from dispatch.policy.sending import Schedule, send_policy
from dispatch.store.campaign_meta import decode_share
from dispatch.template import TemplateError

POOLS = parse_lines_config({"pools": {"p": {
    "gateway": "gw", "rate": 1, "lines": [{"numbers": ["L1", "L2", "L3"]}]}}})


class Book:
    """The things LineFeed.apply reads from the campaign book."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.shares: dict[str, Share] = {}

    def status_of(self, campaign: str) -> str:
        return self.status.get(campaign, ACTIVE)

    def share_of(self, campaign: str) -> Share:
        return self.shares.get(campaign, Share())


def feed_with(count: int, campaign: str = "c1", feed: LineFeed | None = None) -> LineFeed:
    feed = feed or LineFeed("gw", LinePlan(list(POOLS.pools.values()), GatewayCaps()))
    spec = Campaign(campaign, "gw", "", lambda values: "text", send_policy(Schedule()),
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


async def test_a_campaign_given_priority_gets_the_lines_first_from_the_next_refresh() -> None:
    feed, book = feed_with(3, "c1"), Book()
    feed_with(3, "c2", feed)
    feed.apply(book)  # type: ignore[arg-type]
    book.shares["c2"] = Share.checked(1.0, 5)  # `dispatch campaign share c2 --priority 5`
    feed.apply(book)  # type: ignore[arg-type]
    taken = feed.scheduler.take(0.0, 3)
    assert [message.campaign for message, _ in taken] == ["c2", "c2", "c2"]


@pytest.mark.parametrize(("weight", "priority"), [(0.0, 0), (float("nan"), 0), (1.0, 101)])
def test_a_share_out_of_bounds_is_refused(weight: float, priority: int) -> None:
    with pytest.raises(ValueError):
        Share.checked(weight, priority)


def test_a_share_is_read_from_the_meta_and_a_damaged_one_as_the_default() -> None:
    assert Share.checked(2.5, -3) == Share(2.5, -3)
    assert decode_share(b"oops", b"7") == Share()
    assert decode_share(None, None) == Share()
    assert decode_share(b"3.0", b"-2") == Share(3.0, -2)


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


async def test_a_long_text_takes_a_token_per_part_and_its_parts_are_spaced() -> None:
    """Lines of 1 msg/s, burst 1: a two-part text goes one part now, one after 1 s plus
    the jitter margin; a text that does not render costs one (the sender refuses it)."""
    feed = LineFeed("gw", LinePlan(list(POOLS.pools.values()), GatewayCaps()),
                    parts=lambda text: len(text) // 100 + 1)
    render = {"long": "x" * 150, "short": "x"}

    def text(values: list[str] | None) -> str:
        if not values:
            raise TemplateError("placeholder {name} has no value")
        return render[values[0]]

    spec = Campaign("c1", "gw", "", text, send_policy(Schedule()), pool="p")
    long, short, broken = (Message("c1", f"{i}-0".encode(), f"+3361000000{i}", values)
                           for i, values in enumerate([["long"], ["short"], None]))
    feed.push(spec, [long, short, broken])
    assert [m.parts for m in (long, short, broken)] == [2, 1, 1]
    taken = feed.scheduler.take(0.0, 10)
    assert [m for m, _ in taken] == [long, short, broken]
    assert long.part_offsets == pytest.approx((0.0, 1.05))
    assert short.part_offsets == broken.part_offsets == ()


async def test_messages_sending_spaced_parts_are_counted_until_their_line_is_back() -> None:
    feed = feed_with(1)
    [(_, line)] = feed.scheduler.take(0.0, 1)
    feed.release_window()  # handed to the gateway, parts to follow
    assert (feed.spacing, feed.scheduler.in_flight, line.busy) == (1, 0, 1)
    feed.release_line(line, sent_until=1.5)
    assert (feed.spacing, line.busy) == (0, 0)
    # One interval after its last answer: no margin between messages (answer-timed).
    assert line.next_free == pytest.approx(2.5)
