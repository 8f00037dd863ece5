"""`dispatch provenance NUMBER [--json]`: everything held about a number.

The answer to a voter's access request: the campaigns holding the number (client,
election, consent source and date, the message's state and failure reason), its opt-out
status and audit, its replies and its reservations. The audit and reply streams are
scanned whole, so this takes longer as they grow; it is not meant for bulk use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

import trio

from dispatch import phone
from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.provenance import provenance
from dispatch.store.redis import open_redis


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("provenance", help="everything held about a number",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("number", metavar="NUMBER", help="in any format (06…, +33…)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    e164, reason = phone.normalise(args.number, settings.enqueue.default_region,
                                   calls=True)
    if e164 is None:
        raise UserError(f"{args.number!r}: {reason}")
    found = trio.run(_read, settings, e164)
    print(json.dumps(found, ensure_ascii=False) if args.json else report(found))
    return 0


async def _read(settings: Settings, number: str) -> dict[str, Any]:
    async with open_redis(settings) as redis:
        return await provenance(redis, Keys(settings.redis.key_prefix), number,
                                settings.enqueue.default_region)


def report(found: dict[str, Any]) -> str:
    """The human form of what `provenance` found."""
    lines = [f"Number {found['number']}", ""]
    lines += _campaign_lines(found["campaigns"])
    lines += _opt_out_lines(found["opt_out"], found["audit"])
    lines += _reply_lines(found["replies"])
    lines += _answer_lines(found["answers"])
    reservations = found["reservations"]
    lines.append("Reservations: " + (", ".join(f"election {e} for client {c}"
                                               for e, c in reservations.items()) or "none"))
    calls = found["calls_last_days"]
    lines.append(f"Calls in the last {calls['days']} days, all voice campaigns: {calls['calls']}")
    return "\n".join(lines)


def _campaign_lines(campaigns: list[dict[str, Any]]) -> list[str]:
    lines = [f"Campaigns holding it: {len(campaigns)}"]
    for c in campaigns:
        owner = (f"client {c['client']}, election {c['election']}" if c["client"]
                 else "no client")
        lines.append(f"  {c['campaign']} ({owner}; created {_when(c['created_at'])})")
        failure = f" — {c['failure']}" if c["failure"] else ""
        lines.append(f"    message: {c['state'] or 'none'}{failure}")
        lines.append(f"    consent: {_consent(c['consent'], c['consent_required'])}")
    return [*lines, ""]


def _consent(record: dict[str, str | None] | None, required: bool) -> str:
    if record is None:
        return "none recorded" + ("" if required else " (campaign not requiring consent)")
    slot = f", slot {record['slot']}" if record["slot"] else ""
    return f"source {record['source'] or '?'}, given {record['date'] or '?'}{slot}"


def _opt_out_lines(opt_out: dict[str, Any], audit: list[dict[str, str]]) -> list[str]:
    scopes = ", ".join(f"{scope} since {_when(since)}"
                       for scope, since in opt_out["scopes"].items())
    hashed = ", ".join(opt_out["hashed_scopes"]) or "none"
    lines = [f"Opt-out: {scopes or 'none in clear'}; suppressed for scopes: {hashed}",
             f"Opt-out history: {len(audit)} entries"]
    lines += [f"  {_when(e.get('at'))} {e.get('action', '?')} scope {e.get('scope', '?')} "
              f"via {e.get('source', '?')}" + (f": {e['text']!r}" if e.get("text") else "")
              for e in audit]
    return [*lines, ""]


def _reply_lines(replies: list[dict[str, str]]) -> list[str]:
    lines = [f"Replies received: {len(replies)}"]
    lines += [f"  {_when(r.get('received_at'))} to {r.get('destination', '?')}: "
              f"{r.get('text', '')!r} ({r.get('intent', '?')})" for r in replies]
    return [*lines, ""]


def _answer_lines(answers: list[dict[str, str]]) -> list[str]:
    lines = [f"Answers to it (HELP, opt-out confirmation): {len(answers)}"]
    lines += [f"  {_when(a.get('at'))} from {a.get('line', '?')}: {a.get('reason', '?')}, "
              f"{a.get('result', '?')}" for a in answers]
    return [*lines, ""]


def _when(timestamp: float | str | None) -> str:
    if timestamp in (None, ""):
        return "?"
    moment = dt.datetime.fromtimestamp(float(timestamp), dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
