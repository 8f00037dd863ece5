"""Memory after a burst (issue 17, item 6): 80 clients post a 1 MiB batch of receipts each
at once to a real daemon, twice; its RSS is read before, at the peak and after each, and
the second burst leaves no more behind than the first. Real processes. Measured: 63 MB
before; peak ~240 MB, ~140 MB after (before the bounds: 1.33 GB, 327-684 MB after)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.signing import signed_headers
from tests.e2e.harness import start_daemon, start_simulator, write_config
from tests.e2e.test_inbound_flood import rss_mb
from tests.inbound import CALLBACK_SECRET

CLIENTS = 80
BODY_BYTES = 1024 * 1024


def batch(client: int) -> bytes:
    """As many receipts as fit in 1 MiB, for unknown ids (parked, up to the cap)."""
    receipts, size = [], 2
    while True:
        item = {"id": f"burst-{client}-{len(receipts):06d}-{'x' * 40}", "status": "undeliverable",
                "error_code": "E042", "done_at": "2026-01-01T00:00:00.000Z"}
        size += len(json.dumps(item)) + 2
        if size > BODY_BYTES:
            return json.dumps(receipts).encode()
        receipts.append(item)


async def burst(port: int, bodies: list[bytes]) -> list[int]:
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)
                                 ) as client, trio.open_nursery() as nursery:
        for body in bodies:
            headers = {"content-type": "application/json",
                       **signed_headers(CALLBACK_SECRET, body, time.time())}

            async def post(body: bytes = body, headers: dict[str, str] = headers) -> None:
                reply = await client.post(f"http://127.0.0.1:{port}/receipts", content=body,
                                          headers=headers)
                statuses.append(reply.status_code)
            nursery.start_soon(post)
    return statuses


async def watch(pid: int, peak: list[float]) -> None:
    """Until cancelled: the highest RSS seen, in peak[0]."""
    while True:
        peak[0] = max(peak[0], rss_mb(pid))
        await trio.sleep(0.02)


async def test_memory_goes_back_down_after_a_burst_of_large_bodies(
        reaper: list[Child], tmp_path: Path, settings: Settings) -> None:
    bodies = [batch(n) for n in range(CLIENTS)]
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path)
        # Receipts looked for in 2 receipt maps, not 49: the burst is recorded sooner.
        config = write_config(tmp_path / "d.toml", settings, simulator.ready["http_port"],
                              consumer="burst", daemon_extra="receipt_timeout_h = 1")
        daemon = await start_daemon(reaper, tmp_path, config)
        pid, port = daemon.process.pid, daemon.ready["inbound_port"]
        figures = [rss_mb(pid)]
        for _ in range(2):
            peak = [0.0]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch, pid, peak)
                statuses = await burst(port, bodies)
                nursery.cancel_scope.cancel()
            assert statuses == [200] * CLIENTS
            await trio.sleep(3)
            figures += [peak[0], rss_mb(pid)]
        print(f"\nRSS (MB) before, then (peak, after 3 s) per burst of {CLIENTS} x "
              f"{len(bodies[0]) / 1e6:.2f} MB: {' '.join(f'{f:.0f}' for f in figures)}")
        _, _, first, _, second = figures
        assert second < first + 50  # what a burst leaves is not kept, burst after burst
        assert await daemon.stop() == 0
