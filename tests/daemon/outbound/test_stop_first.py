"""STOP first, on the sending side: an opt-out read by this daemon stops the messages it
already holds for the number, without waiting for Redis to have it (RecentOptOuts)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio
import trio.testing

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.optout_check import (
    RecentOptOuts,
    SharedOptOutCheck,
    optout_check,
)
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.sender import NOT_SENT_OPTED_OUT, Sender, Sending
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.keys import Keys
from dispatch.policy.backoff import RetryPolicy
from dispatch.settings import Settings
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.optout import ALL, line_scope
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.vocabulary import Accepted, Outbound, Outcome, StateCode, SubmitResult
from tests.daemon.conftest import enqueue

LINE = "ME"
STOPPED = "+33640000001"


class RecordingGateway:
    name, sender, batch_size, concurrency = "gw", LINE, 10, 1
    places_calls = False

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        self.sent += [item.to for item in messages]
        return [Accepted(f"g-{item.to}") for item in messages]


async def test_recent_opt_outs_hold_by_scope_and_expire(
        autojump_clock: trio.testing.MockClock) -> None:
    recent = RecentOptOuts(keep_s=10.0)
    recent.add([("+331", line_scope("36111")), ("+332", ALL)])
    assert recent.holds("+331", "36111") and not recent.holds("+331", "36222")
    assert recent.holds("+332", "36222") and recent.holds("+332", "")
    recent.discard([("+331", line_scope("36111"))])  # a START
    assert not recent.holds("+331", "36111")
    await trio.sleep(11)
    assert not recent.holds("+332", "36222")
    recent.add([])  # forgets what expired
    assert len(recent) == 0


async def test_a_stop_read_during_the_check_stops_the_message_the_sender_holds(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """The sender holds three messages; its Redis check goes out before the STOP is known
    anywhere and comes back "nobody opted out"; meanwhile the reply handler noted the STOP
    in process: that message is suppressed, the others go."""
    await enqueue(redis, settings, tmp_path, 3)
    keys = Keys(settings.redis.key_prefix)
    book = CampaignBook(MetaStore(redis, keys), {"default": LINE})
    await book.refresh()
    queue = Queue(redis, keys, "test")
    recent = RecentOptOuts()
    redis_check = optout_check(queue.optouts, DaemonMetrics())

    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        answer = await redis_check(messages, outbound)  # Redis has no STOP yet
        recent.add([(STOPPED, line_scope(LINE))])  # read while the answer came back
        return answer

    shared = SharedOptOutCheck(check, recent)
    gateway = RecordingGateway()
    outcomes_send, outcomes = trio.open_memory_channel[tuple[str, Outcome]](10)
    messages_send, messages = trio.open_memory_channel[Message](10)
    sending = Sending(book, Retrier(), WindowWaiter(10), RetryPolicy(3, 0.1, 1.0), shared)
    sender = Sender(gateway, sending, DaemonMetrics().gateway("gw"),  # type: ignore[arg-type]
                    outcomes_send)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shared.run)
            nursery.start_soon(sender.run, messages)
            for i in range(3):
                messages_send.send_nowait(Message("c1", f"1-{i}".encode(),
                                                  f"+3364000000{i}", [f"N{i}"]))
            await messages_send.aclose()
            found = [outcome async for _, outcome in outcomes]
            nursery.cancel_scope.cancel()
    assert STOPPED not in gateway.sent and len(gateway.sent) == 2
    suppressed = [o for o in found if o.code is StateCode.SUPPRESSED]
    assert [o.detail for o in suppressed] == [NOT_SENT_OPTED_OUT]
