"""Running the real processes for end-to-end tests: simulator, daemon, CLI commands."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import Settings
from tests.inbound import CALLBACK_SECRET
from tests.texts import SENDER


def write_config(path: Path, settings: Settings, gateway_port: int, *, consumer: str,
                 batch_size: int = 100, claim_idle_s: float = 60.0, inbound_port: int = 0,
                 smpp: bool = False, daemon_extra: str = "", tables: str = "",
                 redis_extra: str = "") -> Path:
    """A daemon config on the test's Redis and key prefix, for the simulator at
    `gateway_port` (its HTTP port, or its SMPP port with `smpp`); `daemon_extra`,
    `redis_extra`: more [daemon] or [redis] keys, `tables`: more tables (e.g.
    [pools.NAME]), as TOML text."""
    path.write_text(
        f'[redis]\nurl = "{settings.redis.url}"\nkey_prefix = "{settings.redis.key_prefix}"\n'
        f"{redis_extra}\n"
        f'[daemon]\nconsumer = "{consumer}"\ninbound_port = {inbound_port}\nmetrics_port = 0\n'
        f"claim_idle_s = {claim_idle_s}\nretry_base_s = 0.05\nretry_max_s = 0.5\n"
        f"max_attempts = 50\n{daemon_extra}\n[gateways.default]\nbatch_size = {batch_size}\n"
        + (f'type = "smpp"\nport = {gateway_port}\nsystem_id = "e2e"\npassword = "secret"\n'
           f'binds = 2\nwindow = 50\nsender = "36111"\nsource_ton = 3\nconcurrency = 8\n'
           if smpp else f'url = "http://127.0.0.1:{gateway_port}"\nconcurrency = 4\n'
           f'inbound_secret = "{CALLBACK_SECRET}"\n')
        + tables)
    return path


def free_port() -> int:
    """A port free right now, for a daemon whose callback URL must survive its restart."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_simulator(reaper: list[Child], tmp_path: Path, *flags: str) -> Child:
    child = await start_child("simulator", dispatch_command(
        "simulator", "--http-port", "0", "--seed", "3", "--callback-secret", CALLBACK_SECRET,
        *flags), tmp_path / "simulator.log")
    reaper.append(child)
    return child


async def start_daemon(reaper: list[Child], tmp_path: Path, config: Path,
                       name: str = "daemon") -> Child:
    child = await start_child(name, dispatch_command("run", "--config", str(config)),
                              tmp_path / f"{name}.log")
    reaper.append(child)
    return child


async def simulator_stats(simulator: Child) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{simulator.ready['http_port']}/stats")
        result: dict[str, Any] = reply.json()
        return result


async def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`dispatch ARGS`. A campaign enqueued here may be sent at any hour (`--window always`)
    unless the test gives its own window: tests run whenever CI does, nights and Sundays
    included, and the default window (Mon-Sat 09:00-20:00) is tested on its own. Files
    without consent columns are accepted (`--no-consent-required`) unless the test passes
    `--consent-required` (a marker this harness removes)."""
    if args and args[0] == "enqueue" and "--window" not in args:
        args = (*args, "--window", "always")
    if args and args[0] == "enqueue" and "--sender" not in args:
        args = (*args, "--sender", SENDER)  # the party the tests' texts name
    if args and args[0] == "enqueue" and "--consent-required" not in args:
        args = (*args, "--no-consent-required")  # consent columns are tested on their own
    args = tuple(arg for arg in args if arg != "--consent-required")
    return await trio.run_process([sys.executable, "-m", "dispatch", *args],
                                  capture_stdout=True, capture_stderr=True, check=False)


async def status(config: Path) -> dict[str, Any]:
    result = await run_cli("status", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr.decode()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


async def wait_until_final(config: Path, campaign: str, expected: int,
                           children: Sequence[Child] = ()) -> dict[str, int]:
    """Poll `dispatch status` until every message is final (bounded by the caller's timeout):
    suppressed counts, as a STOP received mid-campaign holds back a message still queued."""
    while True:
        counts: dict[str, int] = (await status(config))["campaigns"][campaign]
        final = ("delivered", "failed", "expired", "suppressed", "cancelled")
        if sum(counts.get(state, 0) for state in final) >= expected:
            return counts
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def send_campaign(reaper: list[Child], tmp_path: Path, simulator: Child, config: Path,
                        campaign: str, numbers: Sequence[str], text: str
                        ) -> tuple[dict[str, int], dict[str, Any]]:
    """Enqueue one message per number, run a daemon until every one is final, stop it and
    the simulator: (the campaign's counts, the simulator's stats)."""
    (tmp_path / "c.csv").write_text("phone\n" + "\n".join(numbers) + "\n")
    result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", campaign,
                           "--text", text, "--config", str(config), "--json")
    assert json.loads(result.stdout)["accepted"] == len(numbers), result.stderr.decode()
    daemon = await start_daemon(reaper, tmp_path, config)
    try:
        counts = await wait_until_final(config, campaign, len(numbers), [daemon, simulator])
    finally:
        assert await daemon.stop() == 0
    stats = await simulator_stats(simulator)
    await simulator.stop()
    return counts, stats
