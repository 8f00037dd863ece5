"""Helpers for daemon tests: an in-process simulator, a daemon on it, a small campaign."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from dispatch.app import build_daemon
from dispatch.daemon.service import Daemon
from dispatch.enqueue import enqueue_file
from dispatch.keys import Keys
from dispatch.settings import AnswerSettings, DaemonSettings, GatewaySettings, Settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.service import Simulator
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.inbound import CALLBACK_SECRET
from tests.texts import RULES, SIGNED

TEXT = "Bonjour {name}. " + SIGNED


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Simulator, int]]:
    sim = Simulator(SimulatorConfig(http_port=0, seed=5, receipt_delay_ms=20,
                                    callback_secret=CALLBACK_SECRET))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve)
        yield sim, port
        nursery.cancel_scope.cancel()


async def daemon_for(redis: Redis, settings: Settings, port: int, *,
                     answers: AnswerSettings | None = None, **overrides: object) -> Daemon:
    """A daemon of the HTTP gateway at `port` (answering only with `answers`)."""
    daemon_settings = dataclasses.replace(
        DaemonSettings(consumer="t", inbound_port=0, metrics_port=0, retry_base_s=0.01,
                       retry_max_s=0.05), **overrides)
    configured = dataclasses.replace(
        settings, daemon=daemon_settings, answers=answers or AnswerSettings(),
        gateways={"default": GatewaySettings(url=f"http://127.0.0.1:{port}", batch_size=20,
                                             inbound_secret=CALLBACK_SECRET)})
    return await build_daemon(configured, redis, answers=answers is not None)


async def enqueue(redis: Redis, settings: Settings, tmp_path: Path, count: int) -> None:
    rows = "\n".join(f"06{40_000_000 + i:08d},N{i}" for i in range(count))
    (tmp_path / "c.csv").write_text(f"phone,name\n{rows}\n")
    # Any hour (tests run at night too); consent columns are tested on their own.
    report = await enqueue_file(redis, settings, tmp_path / "c.csv", "c1", TEXT,
                                window="always", consent_required=False, rules=RULES)
    assert report.accepted == count


async def final_counts(redis: Redis, settings: Settings, expected: int) -> dict[str, int]:
    keys = Keys(settings.redis.key_prefix)
    while True:
        counts = (await state_counts(redis, keys, ["c1"]))["c1"]
        if counts["delivered"] + counts["failed"] + counts["expired"] == expected:
            return counts
        await trio.sleep(0.05)


