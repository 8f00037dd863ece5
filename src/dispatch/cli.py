"""The `dispatch` command: parses arguments and hands over to one command module.

Each module in dispatch.commands adds its own sub-command with `add_parser(subparsers)` and
sets `handler(args) -> exit code`. Errors the user can fix (config, options, unreadable
files) end as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dispatch import __version__
from dispatch.commands.common import UserError
from dispatch.settings import ConfigError
from dispatch.store.server import RedisServerError

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (ConfigError, UserError, RedisServerError) as exc:
        print(f"dispatch {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
