"""End to end, a voice campaign: enqueue --channel voice → daemon (a call per line at a
time, ends read from the status callbacks, busy and no-answer called again, 9s honoured)
→ the simulator's voice side counting every line's concurrency and every call after a 9."""

from __future__ import annotations

import json
from pathlib import Path

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
)

COUNT = 150
LINES = 20
ACCOUNT = "ACe2e"
CALLS = (f'\n[gateways.calls]\ntype = "voice"\nurl = "http://127.0.0.1:{{port}}"\n'
         f'account_sid = "{ACCOUNT}"\nauth_token = "token"\nbatch_size = 10\nconcurrency = 4\n'
         f'\n[pools.callers]\ngateway = "calls"\nrate = 20\nburst = 1\n'
         f'lines = [{{{{ pattern = "+339000000{{{{00..{LINES - 1}}}}}" }}}}]\n')
MIX = "human=0.45,machine=0.15,no_answer=0.15,busy=0.15,failed=0.05,invalid=0.05"


def voice_config(path: Path, settings: Settings, port: int) -> Path:
    path.write_text(
        f'[redis]\nurl = "{settings.redis.url}"\nkey_prefix = "{settings.redis.key_prefix}"\n'
        f'\n[daemon]\nconsumer = "voice"\ninbound_port = 0\nmetrics_port = 0\n'
        f"call_timeout_s = 30\n" + CALLS.format(port=port))
    return path


async def enqueue_calls(config: Path, tmp_path: Path, campaign: str, numbers: list[str]
                        ) -> dict[str, int]:
    path = tmp_path / f"{campaign}.csv"
    path.write_text("phone\n" + "\n".join(numbers) + "\n")
    result = await run_cli("enqueue", str(path), "--campaign", campaign, "--channel", "voice",
                           "--say", "Votez le 11 avril.", "--gateway", "calls",
                           "--call-attempts", "2", "--busy-retry", "0.005",
                           "--no-answer-retry", "0.005", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr.decode()
    report: dict[str, int] = json.loads(result.stdout)
    return report


@ON_BOTH
async def test_a_voice_campaign_ends_every_call_keeps_lines_single_and_honours_9s(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    numbers = [f"06{70_000_000 + i:08d}" for i in range(COUNT - 10)] + [
        f"01{42_000_000 + i:08d}" for i in range(10)]  # landlines are called too
    with trio.fail_after(120):
        simulator = await start_simulator(
            reaper, tmp_path, "--voice-account", f"{ACCOUNT}:token", "--call-ring-ms", "20",
            "--call-duration-ms", "150", "--call-duration-jitter-ms", "100", "--dtmf-rate",
            "0.3", "--call-outcomes", MIX)
        config = voice_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"])
        assert (await enqueue_calls(config, tmp_path, "v1", numbers))["accepted"] == COUNT
        daemon = await start_daemon(reaper, tmp_path, config)
        counts = await wait_until_final(config, "v1", COUNT, [daemon, simulator])
        assert await daemon.stop() == 0
        stats = (await simulator_stats(simulator))["voice"]
        calls = (await status(config))["calls"]["v1"]
        again = await enqueue_calls(config, tmp_path, "v2", numbers)
    assert counts["delivered"] + counts["failed"] + counts["expired"] == COUNT
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["line_violations"] == 0  # one call at a time on each line
    assert stats["duplicates"] == 0 and stats["active"] == 0
    assert COUNT < stats["placed"] <= 2 * COUNT  # busy and no-answer called once more
    assert stats["placed"] == sum(stats["outcomes"].values())
    assert stats["opted_out"] > 0 and stats["called_after_optout"] == 0
    # `dispatch status` counts every call placed, by how it ended, and the 9s.
    assert calls["calls"] == stats["placed"] and calls["opted_out"] == stats["opted_out"]
    assert (calls["human"], calls["busy"]) == (stats["outcomes"]["human"],
                                               stats["outcomes"]["busy"])
    # Every 9 holds: the numbers that pressed it are left out of the next campaign.
    assert again["suppressed"] == stats["opted_out"]
