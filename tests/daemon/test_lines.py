"""A pool's campaign through the daemon: every message on a line of the pool, within each
line's rate as the SMPP simulator counts it, and pause, cancel and STOP on the way."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from dispatch.app import build_daemon
from dispatch.daemon.service import Daemon
from dispatch.keys import Keys
from dispatch.lines.config import parse_lines_config
from dispatch.settings import DaemonSettings, GatewaySettings, Settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_admin import CampaignAdmin
from dispatch.store.optout import OptOutEvent, line_scope
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.daemon.conftest import TEXT, enqueue

assert len(TEXT) < 160  # one part: one token per message at the simulator
LINE_RATE = 4.0  # messages/s per line, burst 1, as the simulator counts
FINAL = ("delivered", "failed", "expired", "suppressed", "cancelled")


@asynccontextmanager
async def running_smsc(**knobs: float) -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(
        http_port=0, smpp_port=0, accounts={"t": "pw"}, seed=5, receipt_delay_ms=20,
        outcomes={"delivered": 1.0}, line_rate=LINE_RATE, line_burst=1.0, **knobs))
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        yield sim
        nursery.cancel_scope.cancel()


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    async with running_smsc() as sim:
        yield sim


def pooled(settings: Settings, sim: Simulator, lines: int) -> Settings:
    assert sim.smpp_port is not None
    gateway = GatewaySettings(type="smpp", port=sim.smpp_port, system_id="t", password="pw",
                              sender="36000", source_ton=1, source_npi=1, binds=1, window=20,
                              batch_size=10, concurrency=2)
    pools = parse_lines_config({"pools": {"p": {
        "gateway": "default", "rate": LINE_RATE, "burst": 1,
        "lines": [{"pattern": f"336{{{10_000:05d}..{10_000 + lines - 1:05d}}}"}]}}})
    return dataclasses.replace(
        settings, gateways={"default": gateway}, lines=pools,
        daemon=DaemonSettings(consumer="t", inbound_port=0, metrics_port=0,
                              retry_base_s=0.01, retry_max_s=0.05, line_jitter_s=0.1))


async def daemon_for(redis: Redis, settings: Settings) -> Daemon:
    """One daemon driving every line of the pool (no leases), answering nothing."""
    alone = dataclasses.replace(settings, daemon=dataclasses.replace(settings.daemon,
                                                                     line_lease_s=0))
    return await build_daemon(alone, redis, answers=False)


async def counts(redis: Redis, settings: Settings) -> dict[str, int]:
    return (await state_counts(redis, Keys(settings.redis.key_prefix), ["c1"]))["c1"]


async def accepted(sim: Simulator, at_least: int) -> None:
    while sim.stats()["accepted"] < at_least:
        await trio.sleep(0.02)


async def until_final(redis: Redis, settings: Settings, expected: int) -> dict[str, int]:
    while True:
        current = await counts(redis, settings)
        if sum(current[state] for state in FINAL) == expected:
            return current
        await trio.sleep(0.05)


async def send_all(redis: Redis, settings: Settings, expected: int,
                   meanwhile: Callable[[], Awaitable[None]] | None = None,
                   daemon: Daemon | None = None) -> dict[str, int]:
    """Run a daemon (doing `meanwhile` once it is up) until `expected` messages are final."""
    daemon = daemon or await daemon_for(redis, settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run)
        if meanwhile is not None:
            await meanwhile()
        final = await until_final(redis, settings, expected)
        daemon.stop()
    return final


async def test_every_message_goes_out_on_the_pool_s_lines_within_their_rates(
        redis: Redis, settings: Settings, tmp_path: Path, smsc: Simulator) -> None:
    configured = pooled(settings, smsc, lines=20)
    with trio.fail_after(60):
        await enqueue(redis, configured, tmp_path, 150)
        final = await send_all(redis, configured, 150)
    stats = smsc.stats()
    assert final["delivered"] == 150
    assert (stats["accepted"], stats["duplicates"], stats["line_violations"]) == (150, 0, 0)
    assert stats["lines_seen"] == 20  # spread over the pool, not one sender


async def test_a_paused_pool_campaign_gets_no_line_until_resumed(
        redis: Redis, settings: Settings, tmp_path: Path, smsc: Simulator) -> None:
    configured = pooled(settings, smsc, lines=5)
    admin = CampaignAdmin(redis, Keys(configured.redis.key_prefix))

    async def pause_then_resume() -> None:
        await accepted(smsc, 5)
        await admin.pause("c1")
        await trio.sleep(2.5)  # more than two status refreshes
        paused_at = smsc.stats()["accepted"]
        await trio.sleep(1.5)
        assert smsc.stats()["accepted"] == paused_at < 40
        await admin.resume("c1")

    with trio.fail_after(60):
        await enqueue(redis, configured, tmp_path, 40)
        final = await send_all(redis, configured, 40, pause_then_resume)
    assert final["delivered"] == 40
    assert smsc.stats()["line_violations"] == 0


async def test_cancel_ends_messages_waiting_for_a_line_cancelled(
        redis: Redis, settings: Settings, tmp_path: Path, smsc: Simulator) -> None:
    configured = pooled(settings, smsc, lines=2)  # 8 messages/s: most wait for a line
    admin = CampaignAdmin(redis, Keys(configured.redis.key_prefix))

    async def cancel() -> None:
        await accepted(smsc, 3)
        await admin.cancel("c1")

    with trio.fail_after(60):
        await enqueue(redis, configured, tmp_path, 200)
        final = await send_all(redis, configured, 200, cancel)
    assert final["cancelled"] > 100  # far more than were in the senders' hands
    assert final["delivered"] == smsc.stats()["accepted"]
    assert final["in_flight"] == final["queued"] == final["submitted"] == 0


async def test_a_stop_on_a_line_holds_for_messages_going_out_on_that_line(
        redis: Redis, settings: Settings, tmp_path: Path, smsc: Simulator) -> None:
    configured = pooled(settings, smsc, lines=1)  # every message goes out on 33610000
    queue = Queue(redis, Keys(configured.redis.key_prefix), "t")
    with trio.fail_after(60):
        await enqueue(redis, configured, tmp_path, 3)
        # After enqueue (which cannot know the line): only the send-time check sees it.
        await queue.optouts.add([OptOutEvent("+33640000001", line_scope("33610000"), "cli")])
        await queue.optouts.add([OptOutEvent("+33640000002", line_scope("36000"), "cli")])
        final = await send_all(redis, configured, 3)
    # The STOP to the pool's line holds; one to another line (the gateway's sender) not.
    assert (final["suppressed"], final["delivered"]) == (1, 2)


async def test_throttle_answers_are_counted_by_gateway(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    async with running_smsc(throttle_rate=0.3) as sim:
        configured = pooled(settings, sim, lines=20)
        daemon = await daemon_for(redis, configured)
        with trio.fail_after(60):
            await enqueue(redis, configured, tmp_path, 60)
            final = await send_all(redis, configured, 60, daemon=daemon)
        throttled = sim.stats()["smpp"]["throttled"]
    assert final["delivered"] == 60
    assert throttled > 0
    registry = daemon.metrics.registry
    assert registry.get_sample_value("dispatch_throttled_total", {"gateway": "default"}) \
        == throttled
    assert registry.get_sample_value("dispatch_lines", {"pool": "p"}) == 20
