"""`dispatch run`: the daemon (a systemd service)."""

from __future__ import annotations

import argparse
import logging

import trio

from dispatch.app import run_daemon
from dispatch.commands.common import add_config_option, settings_from


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run the sending daemon",
        description="Send queued messages through the configured gateways, record every "
                    "outcome and receipt; SIGTERM/SIGINT drain the work in hand and exit 0.")
    add_config_option(parser)
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: thousands of lines a second, and their URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    trio.run(run_daemon, settings)
    return 0
