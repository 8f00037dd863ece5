"""`dispatch bench`: the load benchmark, end to end, with the raw ceiling beside it.

Starts a private Redis, the simulator and the daemon(s), enqueues N messages, waits for
every receipt, then blasts a fresh simulator with the daemon's own gateway client and no
queue (the ceiling). Over SMPP the simulator runs its lean SMSC (`--full-simulator` for
the full one; --faults implies it), so that its CPU is a small share of the run's.
Reports messages/s, the ratio to the ceiling, latencies, lost,
duplicates, line violations, CPU and peak RSS per process and Redis bytes per message.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

from dispatch.bench.options import FULL, LEAN, BenchOptions, OptionError, checked
from dispatch.bench.report import text_lines
from dispatch.bench.runner import run_bench
from dispatch.commands.common import UserError

SUMMARY_SKIPS = ("series", "profile")  # long: in --output only


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure the pipeline end to end against the simulator",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    _add_workload_options(parser)
    _add_client_options(parser)
    _add_output_options(parser)
    parser.set_defaults(handler=handle)


def _add_workload_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway", choices=("http", "smpp"), default="http")
    parser.add_argument("--messages", type=int, default=10_000, metavar="N",
                        help="messages to send (default 10000)")
    parser.add_argument("--lines", type=int, default=0, metavar="K",
                        help="lines (SMPP source addresses) the simulator rate-limits")
    parser.add_argument("--line-rate", type=float, default=0.0, metavar="R",
                        help="messages/s per line at the simulator (with --lines)")
    parser.add_argument("--line-burst", type=float, default=0.0, metavar="B",
                        help="a line's bucket size (default: one second of --line-rate)")
    parser.add_argument("--line-jitter", type=float, default=0.05, metavar="S",
                        help="the daemon's daemon.line_jitter_s: timing spread absorbed per "
                             "line (default 0.05)")
    parser.add_argument("--text-parts", type=int, default=1, metavar="P",
                        help="SMS parts of the campaign's text (default 1); with --lines, no "
                             "ceiling run (its client does not space parts)")
    parser.add_argument("--enqueue-rate", type=float, default=0.0, metavar="R",
                        help="enqueue at R rows/s while the daemons run (default: enqueue "
                             "everything first, then start them)")
    parser.add_argument("--receipt-delay-ms", type=float, default=100.0,
                        help="simulator delay before each receipt (default 100)")


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=0,
                        help="messages per submission (default: http 100, smpp 100)")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="submissions in flight (default: http 4, smpp 8)")
    parser.add_argument("--binds", type=int, default=2, help="SMPP binds (default 2)")
    parser.add_argument("--window", type=int, default=100,
                        help="SMPP window per bind, client and simulator (default 100)")
    parser.add_argument("--daemons", type=int, default=1, help="daemons (default 1)")
    parser.add_argument("--redis-masters", type=int, default=1, metavar="N",
                        help="Redis masters (default 1); more: a private Redis Cluster of N "
                             "masters, their CPU added up")
    parser.add_argument("--campaigns", type=int, default=1, metavar="K",
                        help="split the messages over K campaigns (default 1); on a Redis "
                             "Cluster each campaign's keys have their own slot")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ceiling-messages", type=int, default=-1, metavar="M",
                        help="messages for the raw ceiling (default: N, at most 200000; "
                             "0: skip it)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="stop waiting after this many seconds (default 1800)")
    parser.add_argument("--stall-timeout", type=float, default=60.0, metavar="S",
                        help="stop waiting when nothing has moved for S seconds (default 60)")
    parser.add_argument("--sample-s", type=float, default=0.1,
                        help="sampling period of the counts (default 0.1)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run daemons and simulators under cProfile, files in DIR")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write the full report (time series included) as JSON")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--full-simulator", action="store_true",
                        help="SMPP: run the full simulator's SMSC rather than its lean mode "
                             "(which costs a few us of CPU per message: the figures are then "
                             "the daemon's); --faults implies it")
    parser.add_argument("--faults", default="", metavar="FLAGS",
                        help="simulator flags for the gateway's faults, quoted as one "
                             "argument: --faults '--no-response 0.01' (see dispatch "
                             "simulator --help)")


def options_from(args: argparse.Namespace) -> BenchOptions:
    try:
        return checked(BenchOptions(
            gateway=args.gateway, messages=args.messages, lines=args.lines,
            line_rate=args.line_rate, line_burst=args.line_burst,
            line_jitter_s=args.line_jitter, text_parts=args.text_parts,
            batch_size=args.batch_size,
            concurrency=args.concurrency, binds=args.binds, window=args.window,
            daemons=args.daemons, redis_masters=args.redis_masters, campaigns=args.campaigns,
            enqueue_rate=args.enqueue_rate,
            receipt_delay_ms=args.receipt_delay_ms, ceiling_messages=args.ceiling_messages,
            timeout_s=args.timeout, stall_s=args.stall_timeout, sample_s=args.sample_s,
            profile_dir=args.profile.resolve() if args.profile else None,
            faults=fault_flags(args.faults),
            simulator=FULL if args.full_simulator else LEAN))
    except OptionError as exc:
        raise UserError(str(exc)) from None


def fault_flags(text: str) -> tuple[str, ...]:
    """--faults as the simulator's arguments; one line when its quoting is broken."""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise OptionError(f"--faults: {exc} in {text!r}") from None


def handle(args: argparse.Namespace) -> int:
    options = options_from(args)
    if options.profile_dir is not None:
        options.profile_dir.mkdir(parents=True, exist_ok=True)
    report = run_in_workdir(options)
    if args.output is not None:
        args.output.write_text(json.dumps(report, indent=1) + "\n")
    summary = {key: value for key, value in report.items() if key not in SUMMARY_SKIPS}
    print(json.dumps(summary) if args.json else "\n".join(text_lines(summary)))
    return 0 if report["complete"] and report["lost"] == 0 else 1


def run_in_workdir(options: BenchOptions, label: str = "dispatch bench") -> dict[str, Any]:
    """One run in a temporary folder, removed afterwards unless the run failed (its logs
    are what the engineer needs then)."""
    workdir = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    try:
        report = trio.run(run_bench, options, workdir)
    except BaseException:
        print(f"{label}: failed; logs kept in {workdir}", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    return report
