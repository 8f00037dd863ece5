"""What sub-commands share: the exit codes, the --config option, loading settings, the
message text and the lint overrides."""

from __future__ import annotations

import argparse
import enum
from pathlib import Path

from dispatch.errors import ConfigError, PortUnavailableError, RedisUnavailableError
from dispatch.processes import ProcessFailed
from dispatch.settings import Settings, load_settings


class ExitCode(enum.IntEnum):
    """What every `dispatch` command exits with (the README's table). Every code but 0
    comes with one line on stderr, `dispatch COMMAND: what (where)`, never a traceback."""

    OK = 0
    # The command ran and the answer is no: `lint` refused the text, a file with no usable
    # row, `demo`/`bench` not complete, a process it started failed (a daemon worker).
    FAILED = 1
    # Nothing done: a bad option (argparse's usage errors too), configuration (a bad Redis
    # URL among them), file or name, or a refusal (`purge` while another one runs).
    USAGE = 2
    # Redis cannot be used: nothing answers at its address, it refused the login, it was
    # lost on the way, the embedded redis-server could not start, or (a command that only
    # reads) no Redis is running and none was ever started here.
    REDIS = 3
    # A port to listen on cannot be had: in use, privileged, not an address of this host.
    PORT = 4
    # Stopped with Ctrl-C (SIGINT) before the end.
    INTERRUPTED = 130


class UserError(Exception):
    """An error the user can fix (bad option, unreadable file); shown as one line."""


def sole_exception(error: BaseException) -> BaseException:
    """The one error inside nursery exception groups of one (else `error` itself)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code of an error told in one line; None for anything else (a bug: its
    traceback is shown)."""
    if isinstance(error, (UserError, ConfigError)):
        return ExitCode.USAGE
    if isinstance(error, RedisUnavailableError):
        return ExitCode.REDIS
    if isinstance(error, PortUnavailableError):
        return ExitCode.PORT
    if isinstance(error, ProcessFailed):  # a child's own one-line error passes through
        passed = (ExitCode.USAGE, ExitCode.REDIS, ExitCode.PORT)
        return ExitCode(error.code) if error.code in passed else ExitCode.FAILED
    return None


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


def add_channel_options(parser: argparse.ArgumentParser) -> None:
    """--channel and a voice campaign's script (docs/VOICE.md)."""
    parser.add_argument("--channel", choices=("sms", "voice"), default="sms",
                        help="sms (default) or voice: a recorded call per recipient")
    parser.add_argument("--say", metavar="TEXT", default=None,
                        help="voice: the message, read aloud ({column} placeholders allowed)")
    parser.add_argument("--audio-url", metavar="URL", default="",
                        help="voice: the message, a recording the provider fetches")
    parser.add_argument("--preamble", metavar="TEXT", default="",
                        help="voice: read first; it must name the sender and say 'tapez 9 "
                             "pour ne plus être appelé' (default: one built from --sender)")


def campaign_text(args: argparse.Namespace) -> str:
    """The SMS text (--text or --text-file), or what a call reads aloud (--say, or nothing
    with --audio-url)."""
    if args.channel == "voice":
        if args.text is not None or args.text_file is not None:
            raise UserError("a voice campaign's message is --say TEXT or --audio-url URL, "
                            "not --text")
        if (args.say is None) == (not args.audio_url):
            raise UserError("give the call's message with exactly one of --say or "
                            "--audio-url")
        return args.say or ""
    if args.say is not None or args.audio_url or args.preamble:
        raise UserError("--say, --audio-url and --preamble are for --channel voice")
    return message_text(args.text, args.text_file)


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
