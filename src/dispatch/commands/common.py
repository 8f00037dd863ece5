"""What every sub-command shares: the --config option and loading settings."""

from __future__ import annotations

import argparse

from dispatch.settings import Settings, load_settings


class UserError(Exception):
    """An error the user can fix (bad option, unreadable file); shown as one line."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", default=None,
        help="TOML config file (default: $DISPATCH_CONFIG, else built-in defaults)",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))
