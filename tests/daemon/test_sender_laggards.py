"""A batch's lagging answer holds up only its own message (Sender with submit_early)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio
import trio.testing

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.sender import Sender, Sending
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.keys import Keys
from dispatch.policy.backoff import RetryPolicy
from dispatch.settings import Settings
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.redis import Redis
from dispatch.vocabulary import Accepted, Outbound, Outcome, SubmitResult
from tests.daemon.conftest import enqueue

LAG_S = 10.0


class LaggingAnswers:
    """The second message's answer comes LAG_S late; the others at once."""

    def __init__(self, count: int) -> None:
        self.count = count

    async def first(self) -> list[SubmitResult | None]:
        return [None if i == 1 else Accepted(f"g{i}") for i in range(self.count)]

    async def rest(self) -> list[SubmitResult | None]:
        await trio.sleep(LAG_S)
        return [Accepted("g1") if i == 1 else None for i in range(self.count)]


class LaggingGateway:
    name, sender, batch_size, concurrency = "gw", "ME", 10, 1
    places_calls = False

    def __init__(self) -> None:
        self.batches = 0

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]:
        raise AssertionError("submit_early is used")

    async def submit_early(self, messages: Sequence[Outbound]) -> LaggingAnswers:
        self.batches += 1
        return LaggingAnswers(len(messages))


async def test_answered_messages_are_recorded_without_waiting_for_the_laggard(
        redis: Redis, settings: Settings, tmp_path: Path,
        autojump_clock: trio.testing.MockClock) -> None:
    await enqueue(redis, settings, tmp_path, 6)
    book = CampaignBook(MetaStore(redis, Keys(settings.redis.key_prefix)), {"default": "ME"})
    await book.refresh()
    gateway = LaggingGateway()
    outcomes_send, outcomes = trio.open_memory_channel[tuple[str, Outcome]](20)
    messages_send, messages = trio.open_memory_channel[Message](20)
    sending = Sending(book, Retrier(), WindowWaiter(10), RetryPolicy(3, 0.1, 1.0))
    sender = Sender(gateway, sending, DaemonMetrics().gateway("gw"),  # type: ignore[arg-type]
                    outcomes_send)
    seen: list[tuple[float, str]] = []
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run, messages)
            started = trio.current_time()
            for batch in range(2):  # two batches of three, one after the other
                for i in range(3):  # no checkpoint between: the sender takes all three
                    messages_send.send_nowait(Message("c1", f"1-{batch * 3 + i}".encode(),
                                                     f"+3364000000{batch * 3 + i}", [f"N{i}"]))
                for _ in range(2):
                    _, outcome = await outcomes.receive()
                    seen.append((trio.current_time() - started, outcome.detail))
            await messages_send.aclose()
            async for _, outcome in outcomes:  # the laggards, then the channel closes
                seen.append((trio.current_time() - started, outcome.detail))
    assert seen[:4] == [(0, "g0"), (0, "g2"), (0, "g0"), (0, "g2")]  # not held up
    assert seen[4:] == [(LAG_S, "g1"), (LAG_S, "g1")]  # each at its own time
    assert gateway.batches == 2
