"""What sub-commands share: the --config option, loading settings, the message text and
the lint overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def add_override_options(parser: argparse.ArgumentParser) -> None:
    """The two lint refusals an operator may override (dispatch.policy.lint)."""
    parser.add_argument("--allow-missing-optout", "--allow-missing-optout-mention",
                        action="store_true",
                        help="accept a text without an opt-out mention ('STOP au 36xxx')")
    parser.add_argument("--allow-missing-sender", "--allow-missing-sender-identity",
                        action="store_true",
                        help="accept a text that does not name the sender (--sender)")


def message_text(text: str | None, text_file: str | None) -> str:
    """The text from --text or --text-file (exactly one of them)."""
    if (text is None) == (text_file is None):
        raise UserError("give the message with exactly one of --text or --text-file")
    if text is not None:
        return text
    assert text_file is not None
    try:
        return Path(text_file).read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise UserError(f"--text-file {text_file}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"--text-file {text_file}: not valid UTF-8") from None
    except OSError as exc:
        raise UserError(f"--text-file {text_file}: cannot read: {exc.strerror}") from None
