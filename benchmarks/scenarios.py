"""The load benchmark's named scenarios; each writes benchmarks/results/<name>.json.

    python benchmarks/scenarios.py                  # every scenario but the 1M ones
    python benchmarks/scenarios.py smpp_1m lines_10k
    python benchmarks/scenarios.py --list
    python benchmarks/scenarios.py --table          # the results as a Markdown table

Each scenario is a `dispatch bench` command line (recorded in its result as `command`,
so a figure can be reproduced without this script), run in this process; the result is
the full report, time series included, plus the load average around the run (the machine
may be shared). `enqueue_1m` runs benchmarks/enqueue_file.py. Then benchmarks/plot.py
draws <name>.png for each result and throughput.png for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dispatch.commands import bench

HERE = Path(__file__).parent
RESULTS = HERE / "results"
ENQUEUE_ROWS = 1_000_000

SCENARIOS: dict[str, list[str]] = {
    "http_batch_100k": ["--gateway", "http", "--messages", "100000", "--batch-size", "100",
                        "--concurrency", "4"],
    "http_single_20k": ["--gateway", "http", "--messages", "20000", "--batch-size", "1",
                        "--concurrency", "8"],
    "smpp_200k": ["--gateway", "smpp", "--messages", "200000"],
    "smpp_1m": ["--gateway", "smpp", "--messages", "1000000"],
    # Two daemon processes (as `dispatch run --processes 2`), each with its 2 binds and 8
    # senders, against the same one-process ceiling client: on two cores they keep the
    # cores busier than one daemon whose event loop waits on Redis and the SMSC in turn.
    "smpp_200k_2daemons": ["--gateway", "smpp", "--messages", "200000", "--daemons", "2"],
    "smpp_1m_2daemons": ["--gateway", "smpp", "--messages", "1000000", "--daemons", "2"],
    # The figure: 10,000 lines at 0.2 message/s each (burst 1), 2,000/s of
    # capacity, the daemon's pool declared like the simulator's lines. 60,000 messages:
    # the first burst (one per line) then five whole turns of every line, measured as
    # `steady_per_second` against `line_capacity_per_second` (target ratio >= 0.97).
    "lines_10k": ["--gateway", "smpp", "--messages", "60000", "--lines", "10000",
                  "--line-rate", "0.2", "--timeout", "300"],
    # The same lines with a two-part text: each message takes two tokens of its line, the
    # second part spaced 5.05 s after the first (burst 1), so 1,000 messages/s of capacity.
    "lines_10k_2parts": ["--gateway", "smpp", "--messages", "40000", "--lines", "10000",
                         "--line-rate", "0.2", "--text-parts", "2", "--timeout", "300"],
    "paced_smpp_2k": ["--gateway", "smpp", "--messages", "60000", "--enqueue-rate", "2000"],
}
DEFAULT_SKIPS = ("smpp_1m", "smpp_1m_2daemons")


def bench_report(name: str, flags: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    options = bench.options_from(parser.parse_args(["bench", *flags]))
    report = bench.run_in_workdir(options, label=name)
    return {"scenario": name, "command": " ".join(["dispatch", "bench", *flags]), **report}


def enqueue_report() -> dict[str, Any]:
    script = HERE / "enqueue_file.py"
    load = _load()
    # Its result goes where this script writes the scenario's (one file, not two).
    done = subprocess.run([sys.executable, str(script), "--rows", str(ENQUEUE_ROWS),
                           "--output", str(RESULTS / "enqueue_1m.json")],
                          check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"scenario": "enqueue_1m",
            "command": f"python benchmarks/enqueue_file.py --rows {ENQUEUE_ROWS}",
            **result, "load_average_before": load, "load_average_after_run": _load()}


def run(name: str) -> dict[str, Any]:
    if name == "enqueue_1m":
        return enqueue_report()
    return bench_report(name, SCENARIOS[name])


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def headline(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("scenario", "per_second", "ceiling_per_second", "ratio", "steady_per_second",
            "line_capacity_per_second", "capacity_ratio", "p50_ms", "p99_ms",
            "receipt_p50_ms", "receipt_p99_ms", "daemon_rss_mb", "daemon_cpu_s",
            "redis_bytes_per_message", "lost", "duplicates", "line_violations", "complete",
            "rows_per_second", "load_average_before")
    return {key: report[key] for key in keys if key in report}


COLUMNS = (("per_second", "msg/s"), ("ceiling_per_second", "ceiling"), ("ratio", "ratio"),
           ("p50_ms", "enq→submit p50 ms"), ("p99_ms", "p99 ms"),
           ("receipt_p50_ms", "submit→receipt p50 ms"), ("receipt_p99_ms", "p99 ms"),
           ("daemon_rss_mb", "daemon RSS MB"), ("daemon_cpu_us", "daemon µs/msg"),
           ("redis_bytes_per_message", "Redis B/msg"), ("lost", "lost"),
           ("duplicates", "dup"), ("line_violations", "line viol."), ("load", "load avg"))


def table_row(report: dict[str, Any]) -> list[str]:
    daemon = report.get("processes", {}).get("daemon-1", {})
    values = {**report, "daemon_cpu_us": daemon.get("cpu_us_per_message"),
              "load": report.get("load_average_before", [None])[0]}
    if report.get("scenario") == "enqueue_1m":  # rows/s; its duplicates are input rows
        values.update(per_second=report.get("rows_per_second"), duplicates=None)
    return [cell(key, values.get(key)) for key, _ in COLUMNS]


def cell(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key == "ratio":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(paths: Sequence[Path]) -> str:
    """The results as the README's table: one row per scenario, its command below it."""
    header = ["scenario", *(title for _, title in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    commands = []
    for path in paths:
        report = json.loads(path.read_text())
        name = report.get("scenario", path.stem)
        flag = "" if report.get("complete", True) else " (incomplete)"
        lines.append("| " + " | ".join([name + flag, *table_row(report)]) + " |")
        commands.append(f"- `{name}`: `{report.get('command', '?')}`")
    return "\n".join([*lines, "", *commands])


def main(argv: Sequence[str] | None = None) -> None:
    names = [*SCENARIOS, "enqueue_1m"]
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[*names, []], metavar="NAME",
                        help=f"scenarios to run ({', '.join(names)})")
    parser.add_argument("--list", action="store_true", help="print the scenarios and exit")
    parser.add_argument("--table", action="store_true",
                        help="print the results in benchmarks/results as a Markdown table")
    args = parser.parse_args(argv)
    if args.table:
        known = [RESULTS / f"{name}.json" for name in names]
        print(markdown_table([path for path in known if path.exists()]))
        return
    if args.list:
        width = max(map(len, names))
        for name, flags in SCENARIOS.items():
            print(f"{name:<{width}} dispatch bench {' '.join(flags)}")
        print(f"{'enqueue_1m':<{width}} python benchmarks/enqueue_file.py --rows "
              f"{ENQUEUE_ROWS}")
        return
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or [n for n in names if n not in DEFAULT_SKIPS]:
        report = run(name)
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(headline(report)), flush=True)
    subprocess.run([sys.executable, str(HERE / "plot.py")], check=True)


if __name__ == "__main__":
    main()
