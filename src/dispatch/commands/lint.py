"""`dispatch lint`: a campaign text's encoding, parts and cost, and the compliance checks;
with --channel voice, a call's preamble and message, duration and cost.

With placeholders, parts and cost are the worst case (dispatch.policy.cost): `dispatch
enqueue` prints the same lines with the exact figures of the messages it queued.

Exit 0 when the text may be sent, 1 when a problem refuses it (no opt-out mention, no
sender given or not named; unless --allow-missing-optout / --allow-missing-sender: the rule
and the message of `dispatch enqueue`), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation

from dispatch.commands.common import (
    UserError,
    add_channel_options,
    add_config_option,
    add_override_options,
    campaign_text,
    settings_from,
)
from dispatch.enqueue import gateway_of
from dispatch.policy.cost import RenderedParts, WorstCase
from dispatch.policy.lint import (
    CURRENCY,
    DEFAULT_PRICE_PER_PART,
    LintReport,
    lint_text,
    refused_because,
    sender_identity,
)
from dispatch.policy.voice_lint import VoiceLintReport, default_preamble, lint_voice
from dispatch.template import TemplateError, placeholders
from dispatch.text import GSM7


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lint", help="check a campaign text: encoding, parts, cost, opt-out and sender",
        description="Encoding (GSM-7 or UCS-2), parts per message and the campaign's cost "
                    "(with {placeholders}: the worst case, each value at a plausible length "
                    "and in UCS-2 if one may force it; enqueue counts the exact parts); "
                    "refuses a text without an opt-out mention, or not naming the sender "
                    "(--sender, else --client), as enqueue does.")
    parser.add_argument("--text", help="the message text ({column} placeholders allowed)")
    parser.add_argument("--text-file", metavar="F", help="read the message text from F")
    parser.add_argument("--sender", metavar="NAME",
                        help="who sends (party or candidate): the text must name it "
                             "(default: --client)")
    parser.add_argument("--client", metavar="NAME",
                        help="the client the campaign is for, as given to enqueue: the "
                             "sender when --sender is not given")
    parser.add_argument("--count", metavar="N", type=_count, default=None,
                        help="number of recipients, for the campaign's cost")
    parser.add_argument("--placeholder-length", metavar="NAME=N", type=_length,
                        action="append", default=[],
                        help="count {NAME} at N characters at most, for the worst case "
                             "(default: by name, e.g. prenom 20, nom 30, ville 45; else 30)")
    parser.add_argument("--gateway", metavar="NAME", default=None,
                        help="the gateway whose configured prices count, as at enqueue "
                             "(default: default)")
    parser.add_argument("--price-per-part", metavar=CURRENCY, type=_price, default=None,
                        help=f"price of one SMS part (default: the gateway's price_per_part, "
                             f"{DEFAULT_PRICE_PER_PART} unless configured)")
    parser.add_argument("--price-per-attempt", metavar=CURRENCY, type=_price, default=None,
                        help="voice: price of one call placed (default: the gateway's)")
    parser.add_argument("--price-per-minute", metavar=CURRENCY, type=_price, default=None,
                        help="voice: price of one connected minute (default: the gateway's)")
    add_override_options(parser)
    add_channel_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    text = campaign_text(args)
    _configured_prices(args)
    sender = sender_identity(args.sender, args.client)  # who enqueue would check
    try:
        report = _voice_lint(args, text, sender) if args.channel == "voice" else lint_text(
            text, sender=sender, price_per_part=args.price_per_part,
            recipients=args.count, allow_missing_optout=args.allow_missing_optout,
            allow_missing_sender=args.allow_missing_sender,
            lengths=_lengths(text, args.placeholder_length))
    except ValueError as exc:  # a sender with no letter or digit
        raise UserError(f"--sender: {exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print("\n".join(describe(report)))
    return 0 if report.ok else 1


def _configured_prices(args: argparse.Namespace) -> None:
    """The prices not given: the gateway's in the configuration, as enqueue counts them."""
    prices = ("price_per_part", "price_per_attempt", "price_per_minute")
    if all(getattr(args, price) is not None for price in prices):
        return  # no configuration to read
    settings = settings_from(args)
    name = gateway_of(settings, args.gateway, None)
    if name not in settings.gateways:
        raise UserError(f"--gateway {name}: no such gateway in the configuration")
    for price in prices:
        if getattr(args, price) is None:
            setattr(args, price, _configured(getattr(settings.gateways[name], price)))


def _configured(value: float) -> Decimal:
    """A configured price as a Decimal with at least cents (0.1 -> 0.10), as enqueue's."""
    price = Decimal(str(value))
    cents = price.quantize(Decimal("0.01"))
    return cents if cents == price else price


def _voice_lint(args: argparse.Namespace, say: str, sender: str | None) -> VoiceLintReport:
    preamble = args.preamble or (default_preamble(sender) if sender else "")
    return lint_voice(preamble, say=say, audio_url=args.audio_url, sender=sender,
                      price_per_attempt=args.price_per_attempt,
                      price_per_minute=args.price_per_minute,
                      allow_missing_optout=args.allow_missing_optout,
                      allow_missing_sender=args.allow_missing_sender)


def describe(report: LintReport | VoiceLintReport) -> list[str]:
    """The human-readable report, one line per item."""
    lines = measures(report)
    lines += [f"{p.severity}: {p.code}: {p.message}" for p in report.problems]
    lines.append("ok" if report.ok else refused_because(report.refusals))
    return lines


def measures(report: LintReport | VoiceLintReport) -> list[str]:
    """Encoding, parts and cost, one line each (also in the enqueue summary: there, with
    placeholders, the exact figures of the messages queued); a call's duration and cost."""
    if isinstance(report, VoiceLintReport):
        return voice_measures(report)
    if report.queued is not None and report.placeholders:
        return queued_measures(report, report.queued)
    if report.worst_case is not None:
        return worst_case_measures(report, report.worst_case)
    return [_encoding_line(report),
            f"parts: {report.parts} ({report.units} {_unit_name(report.encoding)})",
            _cost_line(report)]


def worst_case_measures(report: LintReport, worst: WorstCase) -> list[str]:
    """A text with placeholders before any file: its parts with every value at its
    plausible length, and in UCS-2 if a value may force it."""
    encoding = _encoding_line(report)
    if worst.ucs2 is not None:
        encoding += "; a value with a character outside GSM-7 (ç ô ï ë…) makes its message UCS-2"
    longest = ", ".join(f"{{{name}}} up to {length}" for name, length in worst.lengths)
    fewest = f"{worst.fewest} to " if worst.fewest < worst.most else ""
    parts = (f"parts: {fewest}{worst.most} per message ({longest} characters: at most "
             f"{worst.units} {_unit_name(report.encoding)})")
    if worst.ucs2 is not None and worst.ucs2 > worst.most:
        parts += f"; {worst.ucs2} in UCS-2"
    cost = (f"cost: at most {report.parts} x {report.price_per_part} {CURRENCY} = "
            f"{report.cost_per_message} {CURRENCY} per message")
    if report.cost is not None:
        cost += f"; x {report.recipients:,} recipients = at most {report.cost:,} {CURRENCY}"
    return [encoding, parts, cost]


def queued_measures(report: LintReport, queued: RenderedParts) -> list[str]:
    """The exact parts and cost of the messages enqueue queued, each rendered."""
    encoding = _encoding_line(report)
    if report.encoding == GSM7 and queued.ucs2:
        chars = " ".join(queued.outside_gsm7)  # of every row read, queued or not
        encoding += (f"; {queued.ucs2:,} {_plural(queued.ucs2, 'message')} in UCS-2 because "
                     f"of a value (outside GSM-7 in the file: {chars})")
    sizes = ", ".join(f"{count:,} of {parts} {_plural(parts, 'part')}"
                      for parts, count in queued.by_parts())
    breakdown = f" ({sizes})" if sizes else ""
    return [encoding, f"parts: {queued.parts:,} for {queued.count:,} "
                      f"{_plural(queued.count, 'message')}{breakdown}",
            f"cost: {queued.parts:,} x {report.price_per_part} {CURRENCY} = {report.cost:,} "
            f"{CURRENCY}"]


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


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _encoding_line(report: LintReport) -> str:
    encoding = "GSM-7" if report.encoding == GSM7 else "UCS-2"
    forced = f" (forced by: {' '.join(report.forcing_chars)})" if report.forcing_chars else ""
    return f"encoding: {encoding}{forced}"


def _unit_name(encoding: str) -> str:
    return "GSM-7 characters" if encoding == GSM7 else "UTF-16 units"


def _cost_line(report: LintReport) -> str:
    line = (f"cost: {report.parts} x {report.price_per_part} {CURRENCY} = "
            f"{report.cost_per_message} {CURRENCY} per message")
    if report.cost is not None:
        line += f"; x {report.recipients:,} recipients = {report.cost} {CURRENCY}"
    return line


def _lengths(text: str, given: list[tuple[str, int]]) -> dict[str, int]:
    """--placeholder-length values, each naming a placeholder of the text."""
    try:
        names = placeholders(text)
    except TemplateError:
        names = []  # the lint reports the malformed template
    for name, _ in given:
        if name not in names:
            raise UserError(f"--placeholder-length {name}=...: the text has no "
                            f"{{{name}}} placeholder")
    return dict(given)


def _length(text: str) -> tuple[str, int]:
    name, _, length = text.partition("=")
    if not name.strip() or not length.strip().isdigit() or int(length) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=N with N at least 1")
    return name.strip(), int(length)


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
