"""Two daemons on one Redis share a pool's lines by leases: disjoint shares, and a dead
daemon's lines taken over once its leases expire, with no line ever driven too fast."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from dispatch.app import build_daemon
from dispatch.daemon.service import Daemon
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.service import Simulator
from dispatch.store.redis import Redis
from tests.daemon.conftest import enqueue
from tests.daemon.test_lines import accepted, pooled, running_smsc, until_final

LEASE_S = 1.0  # short, so that a takeover happens within the test


async def daemon(redis: Redis, settings: Settings, consumer: str) -> Daemon:
    configured = dataclasses.replace(settings, daemon=dataclasses.replace(
        settings.daemon, consumer=consumer, line_lease_s=LEASE_S, claim_idle_s=2.0,
        batch_size=20))  # reads in small batches: each daemon holds what its lines can send
    return await build_daemon(configured, redis, answers=False)


def submitted(node: Daemon) -> float:
    value = node.metrics.registry.get_sample_value(
        "dispatch_messages_total", {"gateway": "default", "outcome": "submitted"})
    return value or 0.0


async def two_daemons(redis: Redis, settings: Settings, sim: Simulator
                      ) -> tuple[Settings, Daemon, Daemon]:
    """Settings for a pool of 20 lines on `sim`, and two daemons sharing them."""
    configured = pooled(settings, sim, lines=20)
    return (configured, await daemon(redis, configured, "a"),
            await daemon(redis, configured, "b"))


async def test_two_daemons_split_the_lines_and_both_send(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    async with running_smsc() as sim:
        configured, a, b = await two_daemons(redis, settings, sim)
        with trio.fail_after(60):
            await enqueue(redis, configured, tmp_path, 300)
            async with trio.open_nursery() as nursery:
                await nursery.start(a.run)
                await nursery.start(b.run)
                final = await until_final(redis, configured, 300)
                a.stop()
                b.stop()
            keys = Keys(settings.redis.key_prefix)
            leases = await redis.hgetall(keys.line_leases("p"))
            daemons = await redis.zcard(keys.line_daemons("p"))
        stats = sim.stats()
    # Stopped cleanly: every slice given back (no owner), no heartbeat left.
    assert leases and all(value.startswith(b"\t") for value in leases.values())
    assert daemons == 0
    assert final["delivered"] == 300
    assert (stats["accepted"], stats["duplicates"], stats["line_violations"]) == (300, 0, 0)
    assert submitted(a) > 60 and submitted(b) > 60  # both drove lines
    assert stats["lines_seen"] == 20


async def test_a_dead_daemon_s_lines_and_messages_are_taken_over(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    async with running_smsc() as sim:
        configured, a, b = await two_daemons(redis, settings, sim)
        with trio.fail_after(90):
            await enqueue(redis, configured, tmp_path, 400)
            async with trio.open_nursery() as nursery:
                a_alive = trio.CancelScope()
                nursery.start_soon(_run, a, a_alive)
                await nursery.start(b.run)
                await accepted(sim, 100)
                a_alive.cancel()  # dies mid-campaign: its leases and messages are left
                final = await until_final(redis, configured, 400)
                lines = b.metrics.registry.get_sample_value("dispatch_lines", {"pool": "p"})
                b.stop()
        stats = sim.stats()
    assert final["delivered"] == 400 and final["in_flight"] == 0  # none lost
    assert stats["line_violations"] == 0
    assert stats["accepted"] == 400
    assert lines == 20  # b drove every line by the end


async def _run(node: Daemon, scope: trio.CancelScope) -> None:
    with scope:
        await node.run()
