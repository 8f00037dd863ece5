"""`dispatch simulator`: run the HTTP SMS gateway simulator until SIGINT/SIGTERM.

Once listening it prints one JSON line, `{"http_port": N}`, for scripts to read. On a
signal it stops accepting requests, sends the receipts still pending for at most the
shutdown grace period (unsent ones are reported on stderr), and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import trio

from dispatch.commands.common import UserError
from dispatch.simulator.config import (
    DEFAULT_OUTCOMES_TEXT,
    SimulatorConfig,
    SimulatorConfigError,
    parse_outcome_mix,
)
from dispatch.simulator.service import Simulator

# (flag, converter name, default, help); values are converted here, not by argparse, so a
# bad value is one line on stderr (UserError), not a usage dump.
_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("--host", "str", "127.0.0.1", "address to listen on"),
    ("--http-port", "int", "8480", "port to listen on; 0 = any free port"),
    ("--latency-ms", "float", "0", "fixed extra response latency"),
    ("--latency-jitter-ms", "float", "0", "uniform random extra latency on top"),
    ("--error-429", "float", "0", "probability of a 429 throttled answer"),
    ("--error-5xx", "float", "0", "probability of a 500/502/503 answer"),
    ("--lost-response", "float", "0",
     "probability that a request is accepted but answered 503 anyway"),
    ("--receipt-delay-ms", "float", "200", "delay between acceptance and receipt"),
    ("--receipt-jitter-ms", "float", "0", "uniform random extra receipt delay"),
    ("--outcomes", "outcomes", DEFAULT_OUTCOMES_TEXT, "receipt status mix, NAME=WEIGHT,..."),
    ("--receipt-batch", "int", "200", "receipts per callback POST, at most"),
    ("--seed", "seed", "", "seed of the random generator"),
)


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulator", help="run the HTTP SMS gateway simulator",
        description="Simulated HTTP SMS gateway with fault injection and delivery receipts.")
    for flag, _, default, text in _FLAGS:
        parser.add_argument(flag, default=default, metavar="VALUE",
                            help=f"{text} (default: {default or 'random'})")
    parser.set_defaults(handler=run_simulator)


def run_simulator(args: argparse.Namespace) -> int:
    config = config_from(args)
    try:
        trio.run(_serve_until_signalled, config)
    except (OSError, BaseExceptionGroup) as exc:
        error = _sole_os_error(exc)
        if error is None:
            raise
        raise UserError(f"cannot listen on {config.host}:{config.http_port}: "
                        f"{error.strerror or error}") from None
    return 0


def _sole_os_error(exc: BaseException) -> OSError | None:
    """The OSError (from binding the listener) inside nursery exception groups, if that
    is all there is."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, OSError) else None


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the flags describe; raises UserError naming the bad flag."""
    values = {_dest(flag): _convert(flag, kind, getattr(args, _dest(flag)))
              for flag, kind, _, _ in _FLAGS}
    try:
        return SimulatorConfig(**values)
    except SimulatorConfigError as exc:
        raise UserError(str(exc)) from None


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _convert(flag: str, kind: str, text: str) -> Any:
    try:
        return _CONVERTERS[kind](text)
    except SimulatorConfigError as exc:  # --outcomes explains itself
        raise UserError(str(exc)) from None
    except ValueError:
        expected = "a number" if kind == "float" else "an integer"
        raise UserError(f"{flag}: expected {expected}, got {text!r}") from None


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "seed": lambda text: int(text) if text else None,
    "outcomes": parse_outcome_mix,
}


async def _serve_until_signalled(config: SimulatorConfig) -> None:
    simulator = Simulator(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(simulator.serve)
            print(json.dumps({"http_port": port}), flush=True)
            async for _ in signals:
                break
            await simulator.stop_accepting(config.shutdown_grace_ms / 1000)
            nursery.cancel_scope.cancel()
    _report_unsent(simulator)


def _report_unsent(simulator: Simulator) -> None:
    pending = simulator.receipts.counters.pending
    if pending:
        print(f"dispatch simulator: {pending} receipts still unsent at exit",
              file=sys.stderr)
