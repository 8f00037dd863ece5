"""The daemon killed with SIGKILL mid-campaign and restarted: nothing lost, nothing twice."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.conftest import ON_BOTH
from tests.e2e.harness import (
    free_port,
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    status,
    wait_until_final,
    write_config,
)

COUNT = 6000


@ON_BOTH
async def test_sigkill_mid_campaign_then_restart_loses_nothing_and_sends_nothing_twice(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(300):
        # Slow answers and answers lost after acceptance: many submissions are in flight
        # when the daemon dies, and some were accepted without the daemon knowing. At
        # 4 requests of 10 every 40 ms the run lasts seconds: the kill lands mid-run even
        # when `dispatch status` is slow to start on a loaded machine.
        simulator = await start_simulator(reaper, tmp_path, "--latency-ms", "40",
                                          "--lost-response", "0.05", "--receipt-delay-ms", "100")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="crashy", batch_size=10,
                              inbound_port=free_port())  # gateways keep the callback URL
        numbers = "\n".join(f"07{30_000_000 + i:08d}" for i in range(COUNT))
        (tmp_path / "c.csv").write_text(f"phone\n{numbers}\n")
        result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "crash",
                               "--text", "Parti Test. STOP au 36111", "--config", str(config),
                               "--json")
        assert json.loads(result.stdout)["accepted"] == COUNT

        daemon = await start_daemon(reaper, tmp_path, config)
        await _wait_for_progress(config, minimum=COUNT // 5)
        daemon.process.send_signal(signal.SIGKILL)
        await daemon.process.wait()
        mid = (await status(config))["campaigns"]["crash"]
        assert mid["delivered"] + mid["failed"] + mid["expired"] < COUNT  # killed mid-run

        restarted = await start_daemon(reaper, tmp_path, config, name="daemon-restarted")
        try:
            counts = await wait_until_final(config, "crash", COUNT, [restarted, simulator])
        finally:
            await restarted.stop()
        assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
        stats = await simulator_stats(simulator)
        await simulator.stop()
        assert stats["accepted"] == COUNT
        assert stats["duplicates"] == 0


async def _wait_for_progress(config: Path, minimum: int) -> None:
    while True:
        counts = (await status(config))["campaigns"].get("crash", {})
        if counts.get("submitted", 0) + counts.get("delivered", 0) >= minimum:
            return
        await trio.sleep(0.05)


async def test_sigkill_over_smpp_loses_nothing_and_duplicates_at_most_what_senders_hold(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    """SMPP has no idempotency key: what the SMSC accepted but the daemon had not recorded
    when it died is sent again. A sender records its batch once every answer is in, so the
    duplicates are bounded by what the senders hold (concurrency × batch size), not by the
    window alone; nothing is lost. The figure is printed for the README."""
    with trio.fail_after(300):
        # 100 requests outstanding answered after 100 ms: about 1,000 messages/s, so the
        # kill lands mid-run.
        simulator = await start_simulator(reaper, tmp_path, "--smpp-port", "0",
                                          "--account", "e2e:secret", "--smpp-latency-ms", "100",
                                          "--receipt-delay-ms", "100")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["smpp_port"], consumer="crashy", batch_size=50,
                              smpp=True)
        numbers = "\n".join(f"07{40_000_000 + i:08d}" for i in range(COUNT))
        (tmp_path / "c.csv").write_text(f"phone\n{numbers}\n")
        result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "crash",
                               "--text", "Parti Test. STOP au 36111", "--config", str(config),
                               "--json")
        assert json.loads(result.stdout)["accepted"] == COUNT

        daemon = await start_daemon(reaper, tmp_path, config)
        await _wait_for_progress(config, minimum=COUNT // 5)
        daemon.process.send_signal(signal.SIGKILL)
        await daemon.process.wait()
        mid = (await status(config))["campaigns"]["crash"]
        assert mid["delivered"] + mid["failed"] + mid["expired"] < COUNT  # killed mid-run
        restarted = await start_daemon(reaper, tmp_path, config, name="daemon-restarted")
        try:
            counts = await wait_until_final(config, "crash", COUNT, [restarted, simulator])
        finally:
            await restarted.stop()
        stats = await simulator_stats(simulator)
        await simulator.stop()
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["accepted"] == COUNT
    senders, batch_size = 8, 50  # write_config's SMPP gateway: concurrency, batch_size
    print(f"SMPP SIGKILL: {stats['duplicates']} duplicates of {COUNT}")
    assert stats["duplicates"] <= senders * batch_size
