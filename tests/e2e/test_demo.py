"""`dispatch demo` with zero configuration: it completes and leaves nothing running."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from tests.e2e.harness import run_cli


def demo_processes() -> list[str]:
    """Command lines of running processes that belong to a demo (its redis-server runs in
    a dispatch-demo-* folder; its simulator and daemon are `dispatch` sub-processes)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if "dispatch-demo-" in args:
            found.append(args)
    return sorted(found)


async def test_demo_sends_everything_and_stops_what_it_started() -> None:
    with trio.fail_after(180):
        before = demo_processes()
        result = await run_cli("demo", "--count", "500", "--json")
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
        assert summary["accepted"] == 500
        assert summary["delivered"] + summary["failed"] + summary["expired"] == 500
        assert summary["complete"] is True
        assert summary["per_second"] > 0
        assert demo_processes() == before
