"""End to end with the real processes: enqueue → daemon → simulator → receipts → status."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.conftest import ON_BOTH
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    status,
    wait_until_final,
    write_config,
)

VALID = 10_000
TEXT = "Bonjour {first_name}, rendez-vous dimanche. Parti Test. STOP au 36111"


def write_campaign(path: Path) -> Path:
    """10,000 distinct mobiles, plus duplicates written differently, invalid numbers and
    landlines mixed in."""
    lines = ["phone,first_name"]
    for i in range(VALID):
        lines.append(f"06{10_000_000 + i:08d},Ana")
        if i % 100 == 0:
            lines.append(f"+33 6 {10_000_000 + i:08d},Ana")  # duplicate, other format
        if i % 250 == 0:
            lines.append("06123,Bob")  # invalid: too short
        if i % 500 == 0:
            lines.append(f"01{40_000_000 + i:08d},Cy")  # landline: not for SMS
    path.write_text("\n".join(lines) + "\n")
    return path


@ON_BOTH
async def test_every_accepted_message_ends_delivered_or_failed(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(240):
        simulator = await start_simulator(reaper, tmp_path, "--receipt-delay-ms", "50",
                                          "--error-429", "0.02", "--error-5xx", "0.02")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="e2e")
        daemon = await start_daemon(reaper, tmp_path, config)
        try:
            result = await run_cli("enqueue", str(write_campaign(tmp_path / "c.csv")),
                                   "--campaign", "e2e", "--text", TEXT, "--json",
                                   "--config", str(config))
            assert result.returncode == 0, result.stderr.decode()
            report = json.loads(result.stdout)
            assert report["accepted"] == VALID
            assert report["duplicates"] == 100
            assert report["rejected"] == 40 + 20
            reasons = {error["reason"] for error in report["errors"]}
            assert len(reasons) == 2  # one reason for invalid numbers, one for landlines

            counts = await wait_until_final(config, "e2e", VALID, [daemon, simulator])
            assert counts["delivered"] + counts["failed"] + counts["expired"] == VALID
            assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
            assert counts["delivered"] > VALID * 0.8  # the simulator's default mix

            stats = await simulator_stats(simulator)
            assert stats["accepted"] == VALID
            assert stats["duplicates"] == 0

            metrics = await _metrics(daemon.ready["metrics_port"])
            assert 'dispatch_messages_total{gateway="default",outcome="submitted"}' in metrics
            assert "dispatch_submit_latency_seconds_bucket" in metrics
            assert "dispatch_queue_depth" in metrics
        finally:
            assert await daemon.stop() == 0
            await simulator.stop()
        assert (await status(config))["totals"]["delivered"] == counts["delivered"]


async def test_sigterm_drains_and_exits_zero(settings: Settings, tmp_path: Path,
                                             reaper: list[Child]) -> None:
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, "--latency-ms", "20")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="drain", batch_size=10)
        daemon = await start_daemon(reaper, tmp_path, config)
        try:
            numbers = "\n".join(f"06{20_000_000 + i:08d}" for i in range(2000))
            (tmp_path / "c.csv").write_text(f"phone\n{numbers}\n")
            result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "drain",
                                   "--text", "Parti Test. STOP au 36111", "--config",
                                   str(config))
            assert result.returncode == 0, result.stderr.decode()
            await trio.sleep(1.0)
            daemon.process.send_signal(signal.SIGTERM)
            assert await daemon.process.wait() == 0
            counts = (await status(config))["campaigns"]["drain"]
            # Drained: nothing left half-done in flight; the rest is still queued.
            assert counts["in_flight"] == 0
            assert counts["queued"] + counts["submitted"] + counts["delivered"] + \
                counts["failed"] + counts["expired"] == 2000
        finally:
            daemon.kill()
            await simulator.stop()


async def _metrics(port: int) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/metrics")).text
