"""`dispatch lint`: a campaign text's encoding, parts and cost, and the compliance checks;
with --channel voice, a call's preamble and message, duration and cost.

Exit 0 when the text may be sent, 1 when a problem refuses it (no opt-out mention, sender
not named; unless --allow-missing-optout / --allow-missing-sender), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation

from dispatch.commands.common import (
    UserError,
    add_channel_options,
    add_override_options,
    campaign_text,
)
from dispatch.policy.lint import CURRENCY, DEFAULT_PRICE_PER_PART, LintReport, lint_text
from dispatch.policy.voice_lint import VoiceLintReport, default_preamble, lint_voice
from dispatch.text import GSM7


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lint", help="check a campaign text: encoding, parts, cost, opt-out and sender",
        description="Encoding (GSM-7 or UCS-2), parts per message and the campaign's cost; "
                    "refuses a text without an opt-out mention or without the sender's name.")
    parser.add_argument("--text", help="the message text ({column} placeholders allowed)")
    parser.add_argument("--text-file", metavar="F", help="read the message text from F")
    parser.add_argument("--sender", metavar="NAME",
                        help="who sends (party or candidate): the text must name it")
    parser.add_argument("--count", metavar="N", type=_count, default=None,
                        help="number of recipients, for the campaign's cost")
    parser.add_argument("--price-per-part", metavar=CURRENCY, type=_price,
                        default=DEFAULT_PRICE_PER_PART,
                        help=f"price of one SMS part (default {DEFAULT_PRICE_PER_PART})")
    parser.add_argument("--price-per-attempt", metavar=CURRENCY, type=_price,
                        default=Decimal(0), help="voice: price of one call placed")
    parser.add_argument("--price-per-minute", metavar=CURRENCY, type=_price,
                        default=Decimal(0), help="voice: price of one connected minute")
    add_override_options(parser)
    add_channel_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    text = campaign_text(args)
    try:
        report = _voice_lint(args, text) if args.channel == "voice" else lint_text(
            text, sender=args.sender, price_per_part=args.price_per_part,
            recipients=args.count, allow_missing_optout=args.allow_missing_optout,
            allow_missing_sender=args.allow_missing_sender)
    except ValueError as exc:  # a sender with no letter or digit
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print("\n".join(describe(report)))
    return 0 if report.ok else 1


def _voice_lint(args: argparse.Namespace, say: str) -> VoiceLintReport:
    preamble = args.preamble or (default_preamble(args.sender) if args.sender else "")
    return lint_voice(preamble, say=say, audio_url=args.audio_url, sender=args.sender,
                      price_per_attempt=args.price_per_attempt,
                      price_per_minute=args.price_per_minute,
                      allow_missing_optout=args.allow_missing_optout,
                      allow_missing_sender=args.allow_missing_sender)


def describe(report: LintReport | VoiceLintReport) -> list[str]:
    """The human-readable report, one line per item."""
    lines = measures(report)
    lines += [f"{p.severity}: {p.code}: {p.message}" for p in report.problems]
    lines.append("ok" if report.ok else "refused: fix the errors above or override them")
    return lines


def measures(report: LintReport | VoiceLintReport) -> list[str]:
    """Encoding, parts and cost, one line each (also in the enqueue summary); a call's
    duration and cost."""
    if isinstance(report, VoiceLintReport):
        return voice_measures(report)
    encoding = "GSM-7" if report.encoding == GSM7 else "UCS-2"
    forced = f" (forced by: {' '.join(report.forcing_chars)})" if report.forcing_chars else ""
    return [f"encoding: {encoding}{forced}",
            f"parts: {report.parts} ({report.units} {_unit_name(report.encoding)})",
            _cost_line(report)]


def voice_measures(report: VoiceLintReport) -> list[str]:
    message = ("a recording (its length is not known here)" if report.message_s is None
               else f"{report.message_s:.1f} s")
    lines = [f"duration: preamble {report.preamble_s:.1f} s, then {message}"]
    line = (f"cost: {report.price_per_attempt} {CURRENCY} per call placed, "
            f"{report.price_per_minute} {CURRENCY} per connected minute")
    connected = report.cost_per_connected_call
    if connected is not None:
        line += f"; a call listened to the end: {connected} {CURRENCY}"
    return [*lines, line]


def _unit_name(encoding: str) -> str:
    return "GSM-7 characters" if encoding == GSM7 else "UTF-16 units"


def _cost_line(report: LintReport) -> str:
    line = (f"cost: {report.parts} x {report.price_per_part} {CURRENCY} = "
            f"{report.cost_per_message} {CURRENCY} per message")
    if report.cost is not None:
        line += f"; x {report.recipients:,} recipients = {report.cost} {CURRENCY}"
    return line


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a price like 0.10") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a price like 0.10")
    return value
