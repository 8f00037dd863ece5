"""Two daemons share a pool's lines on one Redis; one is killed with SIGKILL mid-campaign:
the other takes its lines over once their leases expire and its messages once their
claim idles out; every message ends final, none lost, no line ever driven too fast."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    status,
    wait_until_final,
    write_config,
)
from tests.e2e.test_lines import LINES, POOL, TEXT, start_line_simulator

COUNT = 500
DAEMON = "line_jitter_s = 0.1\nline_lease_s = 2.0\nbatch_size = 20\n"


def config_for(tmp_path: Path, settings: Settings, port: int, consumer: str) -> Path:
    return write_config(tmp_path / f"{consumer}.toml", settings, port, consumer=consumer,
                        batch_size=20, smpp=True, claim_idle_s=3.0, daemon_extra=DAEMON,
                        tables=POOL)


async def lines_driven(daemon: Child) -> float:
    """dispatch_lines of the pool, from the daemon's /metrics."""
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{daemon.ready['metrics_port']}/metrics")
    for line in reply.text.splitlines():
        if line.startswith('dispatch_lines{pool="lines"}'):
            return float(line.split()[-1])
    return 0.0


async def test_sigkill_of_one_of_two_daemons_loses_nothing_and_no_line_runs_too_fast(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(180):
        simulator = await start_line_simulator(reaper, tmp_path)
        port = simulator.ready["smpp_port"]
        one, two = (config_for(tmp_path, settings, port, name) for name in ("one", "two"))
        numbers = "\n".join(f"06{70_000_000 + i:08d}" for i in range(COUNT))
        (tmp_path / "c.csv").write_text(f"phone\n{numbers}\n")
        result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "lines",
                               "--text", TEXT, "--config", str(one))
        assert result.returncode == 0, result.stderr.decode()
        doomed = await start_daemon(reaper, tmp_path, one, name="one")
        survivor = await start_daemon(reaper, tmp_path, two, name="two")
        while (await status(one))["campaigns"]["lines"]["delivered"] < COUNT // 4:
            await trio.sleep(0.1)
        assert 0 < await lines_driven(survivor) < LINES  # the lines are shared
        doomed.process.send_signal(signal.SIGKILL)
        await doomed.process.wait()
        while await lines_driven(survivor) < LINES:  # taken over once the leases expire
            await trio.sleep(0.1)
        try:
            counts = await wait_until_final(two, "lines", COUNT, [survivor, simulator])
        finally:
            assert await survivor.stop() == 0
        stats = await simulator_stats(simulator)
        await simulator.stop()
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["accepted"] == COUNT  # none lost
    assert stats["line_violations"] == 0
    senders, batch_size = 8, 20  # what the killed daemon's senders could hold unrecorded
    assert stats["duplicates"] <= senders * batch_size
