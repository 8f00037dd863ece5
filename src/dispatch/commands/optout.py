"""`dispatch optout add|remove|check|import|export`: the suppression list by hand.

Every change is audited (source "cli" or "import"). Numbers are normalised like campaign
files (E.164, default region from config). The scope is "all" (every line) unless
`--line` names one (a STOP to a shared short code applies to every client using it).

`export` writes CSV `number,scope,since,kept_as`: one row per number and scope, `kept_as`
"number" for an entry in clear (`since`: Unix seconds), "hash" for an opt-out a campaign
purge reduced to its keyed hash (`number` is then `hash:<sha1>`, `since` empty): still
applied, never shown in clear.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import trio

from dispatch import phone
from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.optout import ALL, OptOutEvent, OptOutStore, line_scope
from dispatch.store.redis import open_redis


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("optout", help="the opt-out (STOP) list",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (("add", "opt numbers out"), ("remove", "opt numbers back in")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("numbers", nargs="+", metavar="NUMBER")
        action.add_argument("--json", action="store_true", help="print one JSON object")
        _common(action)
    check = actions.add_parser("check", help="is this number opted out?")
    check.add_argument("number", metavar="NUMBER")
    check.add_argument("--json", action="store_true")
    _common(check, scope=False)
    imported = actions.add_parser("import", help="opt out every number of a CSV (phone column)")
    imported.add_argument("file", metavar="FILE")
    imported.add_argument("--json", action="store_true", help="print one JSON object")
    _common(imported)
    exported = actions.add_parser(
        "export", help="write the list as CSV (number,scope,since,kept_as); opt-outs "
                       "kept only as hashes after a purge: hash:<sha1>, kept_as hash")
    _common(exported, scope=False)
    parser.set_defaults(handler=handle)


def _common(parser: argparse.ArgumentParser, scope: bool = True) -> None:
    add_config_option(parser)
    if scope:
        parser.add_argument("--line", default="", metavar="LINE",
                            help="only for this line (sender); default: every line")


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    result: int = trio.run(_run, settings, args)
    return result


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    # check and export only read: they never start a new, empty embedded Redis.
    async with open_redis(settings, start=args.action in ("add", "remove", "import")
                          ) as redis:
        store = OptOutStore(redis, Keys(settings.redis.key_prefix))
        region = settings.enqueue.default_region
        if args.action == "check":
            return await _check(store, _number(args.number, region), args.json)
        if args.action == "export":
            return await _export(store)
        numbers = (_csv_numbers(Path(args.file), region) if args.action == "import"
                   else [_number(raw, region) for raw in args.numbers])
        scope = line_scope(args.line) if args.line else ALL
        source = "import" if args.action == "import" else "cli"
        events = [OptOutEvent(number, scope, source) for number in numbers]
        await (store.remove(events) if args.action == "remove" else store.add(events))
        verb = "opted back in" if args.action == "remove" else "opted out"
        if args.json:
            print(json.dumps({"action": args.action, "numbers": len(events),
                              "scope": scope}))
        else:
            print(f"{len(events):,} numbers {verb} (scope {scope})")
        return 0


async def _check(store: OptOutStore, number: str, as_json: bool) -> int:
    report = await store.check(number)
    if as_json:
        print(json.dumps(report))
    else:
        scopes = ", ".join(report["scopes"]) or "none"
        print(f"{phone.mask(number)}: {'opted out' if report['opted_out'] else 'not opted out'}"
              f" (scopes: {scopes})")
    return 0


async def _export(store: OptOutStore) -> int:
    writer = csv.writer(sys.stdout)
    writer.writerow(["number", "scope", "since", "kept_as"])
    for number, scope, since, kept_as in await store.export():
        writer.writerow([number, scope, "" if since is None else f"{since:.0f}", kept_as])
    return 0


def _number(raw: str, region: str) -> str:
    e164, reason = phone.normalise(raw, region, calls=True)
    if e164 is None:
        raise UserError(f"{raw!r}: {reason}")
    return e164


def _csv_numbers(path: Path, region: str) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    if rows and not any(key.lower() == "phone" for key in rows[0]):
        raise UserError(f"{path}: no 'phone' column")
    numbers = []
    for line, row in enumerate(rows, start=2):
        raw = next(value for key, value in row.items() if key.lower() == "phone")
        e164, reason = phone.normalise(raw or "", region, calls=True)
        if e164 is None:
            raise UserError(f"{path}: line {line}: {reason}")
        numbers.append(e164)
    return numbers
