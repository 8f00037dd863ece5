"""Asking the running processes what they know: daemon /metrics, simulator /stats, Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from dispatch.processes import Child

PROBE_TIMEOUT_S = 10.0


async def get_json(port: int, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        reply = await client.get(f"http://127.0.0.1:{port}{path}")
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result


async def simulator_stats(simulator: Child) -> dict[str, Any]:
    return await get_json(simulator.ready["http_port"], "/stats")


async def scrape_metrics(daemons: list[Child]) -> list[str]:
    """Every daemon's /metrics, as one list of exposition lines."""
    lines: list[str] = []
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        for daemon in daemons:
            reply = await client.get(f"http://127.0.0.1:{daemon.ready['metrics_port']}/metrics")
            reply.raise_for_status()
            lines += reply.text.splitlines()
    return lines


def redis_pid(state_dir: Path) -> int | None:
    """The embedded redis-server's pid, from the pid file it writes once daemonized."""
    try:
        return int((state_dir / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
