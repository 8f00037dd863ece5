"""Small real runs of the benchmark: a private Redis, the simulator, a daemon, the ceiling.

Only the shape of the report and the accounting are asserted (nothing lost, nothing sent
twice, every process stopped): speeds are measured by benchmarks/, not tested.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import pytest
import trio

from dispatch.bench.options import BenchOptions
from dispatch.bench.runner import run_bench
from dispatch.commands import bench

ISSUE_KEYS = ("per_second", "ceiling_per_second", "ratio", "lost", "duplicates",
              "line_violations", "p50_ms", "p99_ms", "daemon_rss_mb", "redis_bytes_per_message")
MESSAGES = 300


def running(text: str) -> set[int]:
    """Pids of this process's children, and of any process whose command line mentions
    `text` (the embedded redis-server daemonizes, but its --dir names the work folder)."""
    found = set()
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            stat = (folder / "stat").read_text()
            args = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:  # it ended meanwhile
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        if parent == os.getpid() or text in args:
            found.add(int(folder.name))
    return found


def assert_complete(report: dict[str, object]) -> None:
    for key in ISSUE_KEYS:
        assert key in report, key
    assert report["accepted"] == MESSAGES
    assert report["complete"] is True
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["unfinished"] == 0
    assert report["gateway_accepted"] == MESSAGES
    assert isinstance(report["per_second"], float) and report["per_second"] > 0
    assert isinstance(report["ratio"], float) and report["ratio"] > 0
    ceiling = report["ceiling"]
    assert isinstance(ceiling, dict)
    assert ceiling["accepted"] == ceiling["receipts"] == MESSAGES
    assert ceiling["duplicates"] == 0


def test_http_through_the_command(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The command's work folder (and so the embedded Redis's --dir) under tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = running(str(tmp_path))
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    output = tmp_path / "report.json"
    args = parser.parse_args(["bench", "--messages", str(MESSAGES), "--timeout", "120",
                              "--json", "--output", str(output)])
    assert args.handler(args) == 0  # bounded by --timeout and the children's own limits
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert_complete(summary)
    assert summary["gateway"] == "http"
    assert "series" not in summary
    full = json.loads(output.read_text())
    assert full["series"]["final"][-1] == MESSAGES
    assert set(full["processes"]) >= {"daemon-1", "simulator", "redis", "bench"}
    assert running(str(tmp_path)) <= before
    assert list(tmp_path.glob("dispatch-bench-*")) == []  # removed after a success


async def test_smpp_run_stops_everything_it_started(tmp_path: Path) -> None:
    options = BenchOptions(gateway="smpp", messages=MESSAGES, timeout_s=120)
    before = running(str(tmp_path))
    with trio.fail_after(180):
        report = await run_bench(options, tmp_path)
    assert_complete(report)
    assert report["line_violations"] == 0
    assert report["redis_bytes_per_message"] is not None
    assert report["settings"]["binds"] == 2
    assert running(str(tmp_path)) <= before
