"""Posts to the daemon's inbound port are the gateway's only when signed with its secret: a
forged STOP, START or receipt changes nothing (401, counted); a signed one is recorded; a
replayed (stale) or tampered one is refused. A real daemon on a real Redis."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.daemon.service import Daemon
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.signing import TOLERANCE_S
from dispatch.simulator.service import Simulator
from dispatch.store.optout import OptOutStore
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.daemon.conftest import daemon_for, enqueue, final_counts
from tests.inbound import CALLBACK_SECRET, signed_json

NUMBER = "+33640000000"  # the campaign's first recipient (enqueue() writes them)
LINE = "DISPATCH"  # the line the campaign went out from


async def post(port: int, path: str, body: bytes, headers: dict[str, str],
               query: str = "?gateway=default") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"http://127.0.0.1:{port}{path}{query}", content=body,
                                 headers=headers)


def reply(text: str) -> list[dict[str, str]]:
    return [{"from": NUMBER, "to": LINE, "text": text}]


async def opted_out(redis: Redis, settings: Settings) -> bool:
    check = await OptOutStore(redis, Keys(settings.redis.key_prefix)).check(NUMBER)
    return bool(check["opted_out"])


def rejected(daemon: Daemon, reason: str, gateway: str = "default") -> float:
    value: float = daemon.metrics.inbound_rejected.labels(gateway, reason)._value.get()
    return value


async def sent_campaign(redis: Redis, settings: Settings, tmp_path: Path, port: int,
                        nursery: trio.Nursery) -> tuple[Daemon, int]:
    """A daemon that sent a 2-message campaign (all final): (daemon, its inbound port)."""
    await enqueue(redis, settings, tmp_path, 2)
    daemon = await daemon_for(redis, settings, port)
    ports = await nursery.start(daemon.run)
    await final_counts(redis, settings, 2)
    return daemon, ports.inbound


async def test_a_forged_stop_start_or_receipt_changes_nothing(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            daemon, port = await sent_campaign(redis, settings, tmp_path, simulator[1],
                                               nursery)
            before = (await state_counts(redis, keys, ["c1"]))["c1"]
            forged_stop = await post(port, "/inbound", json.dumps(reply("STOP")).encode(),
                                     {"content-type": "application/json"})
            forged_receipt = await post(port, "/receipts", json.dumps(
                [{"id": "gw-1", "status": "undeliverable"}]).encode(), {})
            assert (forged_stop.status_code, forged_receipt.status_code) == (401, 401)
            assert not await opted_out(redis, settings)
            # A real STOP, then a START signed with another secret: the STOP holds.
            assert (await post(port, "/inbound", *signed_json(reply("STOP")))).status_code == 200
            assert await opted_out(redis, settings)
            forged_start = await post(port, "/inbound",
                                      *signed_json(reply("START"), secret="guessed-secret"))
            assert forged_start.status_code == 401
            assert await opted_out(redis, settings)
            assert (await state_counts(redis, keys, ["c1"]))["c1"] == before
            assert await redis.hlen(keys.orphan_receipts) == 0  # nothing parked either
            assert (rejected(daemon, "unsigned"), rejected(daemon, "bad_signature")) == (2, 1)
            daemon.stop()
            nursery.cancel_scope.cancel()


async def test_stale_tampered_and_misnamed_posts_are_refused(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            daemon, port = await sent_campaign(redis, settings, tmp_path, simulator[1],
                                               nursery)
            # Captured and replayed after the window (either direction: clocks drift), by
            # a minute: a post signed 1 s ahead of the window's edge came back inside it on
            # a CI host that took over a second to deliver it.
            for skew in (-TOLERANCE_S - 60, TOLERANCE_S + 60):
                old = await post(port, "/inbound",
                                 *signed_json(reply("STOP"), at=time.time() + skew))
                assert old.status_code == 401, old.text
            body, headers = signed_json(reply("HELP"))
            tampered = await post(port, "/inbound", body.replace(b"HELP", b"STOP"), headers)
            misnamed = await post(port, "/inbound", *signed_json(reply("STOP")),
                                  query="?gateway=other")
            garbled = await post(port, "/inbound", body, {
                **headers, "x-dispatch-timestamp": "soon"})
            assert [r.status_code for r in (tampered, misnamed, garbled)] == [401] * 3
            assert not await opted_out(redis, settings)
            assert rejected(daemon, "stale") == 2
            assert rejected(daemon, "bad_signature") == 1
            assert rejected(daemon, "unknown_gateway", "unknown") == 1
            assert rejected(daemon, "malformed") == 1
            # The URL the daemon gives its one HTTP gateway names it; one without is its too.
            unnamed = await post(port, "/inbound", *signed_json(reply("STOP")), query="")
            assert unnamed.status_code == 200
            assert await opted_out(redis, settings)
            daemon.stop()
            nursery.cancel_scope.cancel()


async def test_refusals_are_logged_once_a_minute_without_body_or_number(
        redis: Redis, settings: Settings, tmp_path: Path, simulator: tuple[Simulator, int],
        caplog: Any) -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            daemon, port = await sent_campaign(redis, settings, tmp_path, simulator[1],
                                               nursery)
            for _ in range(5):
                forged = await post(port, "/inbound", json.dumps(reply("STOP")).encode(), {})
                assert forged.status_code == 401
            daemon.stop()
            nursery.cancel_scope.cancel()
    lines = [r.getMessage() for r in caplog.records if "refused (401)" in r.getMessage()]
    assert lines == ["inbound post refused (401): gateway default, unsigned; see "
                     "dispatch_inbound_rejected_total"]
    assert not any(NUMBER[4:] in r.getMessage() or CALLBACK_SECRET in r.getMessage()
                   for r in caplog.records)
