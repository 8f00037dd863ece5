"""The `dispatch` command: parses arguments and hands over to one command module.

Each module in dispatch.commands adds its own sub-command with `add_parser(subparsers)` and
sets `handler(args) -> exit code`. Errors the user can fix (config, options, unreadable
files, Redis not there, a port taken) end as one line on stderr, `dispatch COMMAND: what
(where)`, and the exit code of dispatch.commands.common.ExitCode; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from dispatch import __version__
from dispatch.commands.common import ExitCode, exit_code_for, sole_exception
from dispatch.logs import PRIORITY_ERR, journal_stream

COMMAND_MODULES = (
    "dispatch.commands.enqueue",
    "dispatch.commands.run",
    "dispatch.commands.status",
    "dispatch.commands.simulator",
    "dispatch.commands.demo",
    "dispatch.commands.lint",
    "dispatch.commands.optout",
    "dispatch.commands.campaign",
    "dispatch.commands.provenance",
    "dispatch.commands.purge",
    "dispatch.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch", description="Campaign SMS and voice dispatcher with compliance built in."
    )
    parser.add_argument("--version", action="version", version=f"dispatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def _reader_gone() -> int:
    """The reader of our output stopped early (`dispatch optout export | head`): what it
    wanted it had, so end quietly. stdout goes to /dev/null first, or the interpreter's
    last flush at exit would fail on the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BaseException as exc:
        error = sole_exception(exc)
        if isinstance(error, KeyboardInterrupt):
            return ExitCode.INTERRUPTED
        if isinstance(error, BrokenPipeError):
            return _reader_gone()
        told = exit_code_for(error)
        if told is None:
            raise
        print(f"{_error_priority()}dispatch {args.command}: {error}", file=sys.stderr)
        return told
    return code


def _error_priority() -> str:
    """`<3>` when stderr is the journal (a unit's start refused for a bad setting): journald
    files the line as an error, where `journalctl -p err` finds it; else nothing."""
    return f"<{PRIORITY_ERR}>" if journal_stream() else ""
