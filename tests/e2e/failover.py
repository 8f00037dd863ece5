"""What the Redis failover tests (Sentinel, Cluster) share: STOPs posted just before the
kill, waiting until every message is final, and what must hold after the failover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.processes import Child
from tests.e2e.harness import run_cli

FINAL = ("delivered", "failed", "expired", "suppressed", "cancelled")


async def send_stops(simulator: Child, numbers: list[str]) -> None:
    """Recipients' STOPs to the campaign's line, posted by the simulator to the daemon
    (202: the daemon acknowledged them)."""
    body = [{"from": "+33" + number[1:], "to": "DISPATCH", "text": "STOP"}
            for number in numbers]
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"http://127.0.0.1:{simulator.ready['http_port']}/mo",
                                  json=body)
    assert reply.status_code == 202, reply.text


async def wait_all_final(config: Path, daemon: Child, campaigns: list[str], each: int
                         ) -> dict[str, dict[str, int]]:
    """Poll `dispatch status` (it follows a failover too) until every message of every
    campaign is final; bounded by the caller's timeout."""
    while True:
        result = await run_cli("status", "--config", str(config), "--json")
        if result.returncode == 0:
            counts: dict[str, dict[str, int]] = json.loads(result.stdout)["campaigns"]
            if all(sum(counts.get(c, {}).get(state, 0) for state in FINAL) >= each
                   for c in campaigns):
                return counts
        assert daemon.process.returncode is None, "the daemon exited"
        await trio.sleep(0.5)


def assert_failover_kept(counts: dict[str, int], stats: dict[str, Any], messages: int,
                         stops: int) -> None:
    """Every message final, every STOP taken before the kill kept, nothing sent after a
    STOP, and duplicates bounded by what the daemon holds at once."""
    assert sum(counts[state] for state in FINAL) == messages, "no message lost"
    assert counts["suppressed"] == stops, "every STOP survived the failover"
    # The campaign's messages, and the confirmations of the STOPs (one per number).
    assert stats["accepted"] == messages - stops + stats["confirmations"]
    assert stats["sent_after_stop"] == 0
    # Sent again: what the daemon had recorded on the old master and its replica had not
    # received yet (asynchronous replication), at most what it holds at once.
    assert stats["duplicates"] <= 400
