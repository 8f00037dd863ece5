"""The daemon in process against the in-process simulator, on a real Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import msgpack
import trio
import trio.testing

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.service import Ports
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from tests.daemon.conftest import daemon_for, enqueue, final_counts


async def test_sends_renders_records_and_stops_cleanly(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    with trio.fail_after(60):
        await enqueue(redis, settings, tmp_path, 300)
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            ports: Ports = await nursery.start(daemon.run)
            counts = await final_counts(redis, settings, 300)
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://127.0.0.1:{ports.metrics}/metrics")).text
            daemon.stop()
        assert counts["queued"] == counts["in_flight"] == 0
        assert sim.stats()["accepted"] == 300
        assert sim.stats()["duplicates"] == 0
        assert 'dispatch_messages_total{gateway="default",outcome="submitted"} 300.0' in text
        assert len(daemon.tracker) == 0


async def test_unreadable_entry_goes_to_dead_letters_and_does_not_loop(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    _, port = simulator
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, 5)
        await redis.xadd(keys.campaign("c1").stream, {"m": b"\xc1garbage"})
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            await final_counts(redis, settings, 5)
            while await redis.llen(keys.dead_letters) < 1:
                await trio.sleep(0.05)
            daemon.stop()
        [record] = await redis.lrange(keys.dead_letters, 0, -1)
        campaign, _, payload, reason = msgpack.unpackb(record)
        assert (campaign, payload) == ("c1", b"\xc1garbage")
        assert "payload" in reason
        assert daemon.metrics.dead_letters._value.get() == 1


async def test_messages_of_an_unreachable_gateway_fail_after_max_attempts(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, 3)
        # Nothing listens on port 9 (discard) on loopback: every attempt is refused.
        daemon = await daemon_for(redis, settings, 9, max_attempts=3)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            counts = await final_counts(redis, settings, 3)
            daemon.stop()
        assert counts["failed"] == 3
        errors = Keys(settings.redis.key_prefix).campaign("c1").errors
        reason = await redis.hget(errors, "+33640000000")
        assert reason is not None and reason.startswith(b"gave up after 3 attempts")


async def test_messages_left_pending_by_a_dead_consumer_are_reclaimed_and_sent(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, 40)
        # Another daemon read and admitted everything, then died without a word.
        dead = Queue(redis, keys, "dead-daemon")
        entries = await dead.read_new(["c1"], 100, 100)
        numbers = [msgpack.unpackb(e.payload)[0] for e in entries]
        await dead.admit("c1", [(e.entry_id, n) for e, n in zip(entries, numbers, strict=True)])
        daemon = await daemon_for(redis, settings, port, claim_idle_s=0.2)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            counts = await final_counts(redis, settings, 40)
            daemon.stop()
        assert counts["in_flight"] == 0
        assert sim.stats()["accepted"] == 40
        assert sim.stats()["duplicates"] == 0


async def test_a_message_whose_values_do_not_fit_the_text_fails_with_the_reason(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    _, port = simulator
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        await enqueue(redis, settings, tmp_path, 2)
        # A damaged entry, queued as enqueue would, but with two values for one placeholder.
        number = "+33649999999"
        await redis.hset(keys.campaign("c1").state, {number: "q"})
        await redis.hincrby(keys.campaign("c1").counts, "queued", 1)
        await redis.xadd(keys.campaign("c1").stream, {"m": msgpack.packb([number, ["a", "b"]])})
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            counts = await final_counts(redis, settings, 3)
            daemon.stop()
        assert counts["failed"] >= 1
        reason = await redis.hget(keys.campaign("c1").errors, number)
        assert reason is not None and reason.startswith(b"cannot render the text")


async def test_throttling_delays_messages_without_using_up_their_attempts(
        redis: Redis, settings: Settings, tmp_path: Path,
        autojump_clock: trio.testing.MockClock) -> None:
    from dispatch.daemon.outbound.retrier import Retrier
    from dispatch.daemon.outbound.sender import Sender, Sending
    from dispatch.daemon.outbound.window_waiter import WindowWaiter
    from dispatch.policy.backoff import RetryPolicy
    from dispatch.vocabulary import Accepted, Outbound, Retry, SubmitResult

    class ThrottlingGateway:
        """Throttles every message five times (more than max_attempts), then accepts it."""
        name, sender, batch_size, concurrency = "gw", "ME", 10, 1
        places_calls = False

        def __init__(self) -> None:
            self.calls = 0

        async def submit(self, messages: list[Outbound]) -> list[SubmitResult]:
            self.calls += 1
            if self.calls <= 5:
                return [Retry("throttled", 0.1, counts=False)] * len(messages)
            return [Accepted(f"g{self.calls}")] * len(messages)

    await enqueue(redis, settings, tmp_path, 1)
    keys = Keys(settings.redis.key_prefix)
    book = CampaignBook(MetaStore(redis, keys), {"default": "ME"})
    await book.refresh()
    retrier, gateway = Retrier(), ThrottlingGateway()
    outcomes_send, outcomes = trio.open_memory_channel[tuple[str, object]](10)
    messages_send, messages = trio.open_memory_channel[Message](10)
    sending = Sending(book, retrier, WindowWaiter(10), RetryPolicy(3, 0.1, 1.0))
    sender = Sender(gateway, sending, DaemonMetrics().gateway("gw"),  # type: ignore[arg-type]
                    outcomes_send)  # type: ignore[arg-type]
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run, messages)
            nursery.start_soon(retrier.run, {"gw": messages_send})
            await messages_send.send(Message("c1", b"1-0", "+33640000000", ["N0"]))
            _, outcome = await outcomes.receive()
            nursery.cancel_scope.cancel()
    assert outcome.code == "s"  # type: ignore[attr-defined]
    assert gateway.calls == 6
