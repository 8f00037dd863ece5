"""`dispatch campaign pause|resume|cancel ID`, `dispatch campaign share ID [--weight W]
[--priority P]`, `dispatch campaign set ID [--window SPEC] [--deadline WHEN] [--sender NAME]`
and `dispatch campaign list [--json]`."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
from typing import Any

import trio
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.commands.tables import count, count_column, new_table, text_column
from dispatch.enqueue import EnqueueError, check_schedule
from dispatch.keys import Keys
from dispatch.policy.lint import names_sender
from dispatch.settings import Settings
from dispatch.store.campaign_admin import CampaignAdmin, CampaignNotFound
from dispatch.store.campaign_meta import (
    DEADLINE,
    SENDER_IDENTITY,
    WINDOW,
    CampaignMeta,
    MetaStore,
)
from dispatch.store.overview import finished_marks
from dispatch.store.redis import Redis, open_redis
from dispatch.store.status import shown_status
from dispatch.vocabulary import DELIVERED, FAILED, QUEUED, SUBMITTED


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "campaign", help="pause, resume, cancel or list campaigns",
        description="Pause and resume take effect within about a second on every daemon; "
                    "cancel is final: unsent messages end cancelled.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in ("pause", "resume", "cancel"):
        action = actions.add_parser(name, help=f"{name} a campaign")
        action.add_argument("campaign", metavar="ID")
        action.add_argument("--json", action="store_true", help="print one JSON object")
        add_config_option(action)
    share = actions.add_parser(
        "share", help="how a campaign shares its pool's lines with the others",
        description="A higher priority goes first; campaigns of one priority share the "
                    "lines in proportion to their weight (default 1). Every daemon applies "
                    "it within about a second.")
    share.add_argument("campaign", metavar="ID")
    share.add_argument("--weight", type=float, default=None, help="0.01 to 1000")
    share.add_argument("--priority", type=int, default=None, help="-100 to 100")
    share.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(share)
    changes = actions.add_parser(
        "set", help="change a campaign's window, deadline or sender, on purpose (audited)",
        description="A file loaded on top of a campaign cannot change these (enqueue refuses "
                    "it): they change here, each change audited, and every daemon applies "
                    "it within about a second. An empty value removes the setting (the "
                    "channel's default window, no deadline).")
    changes.add_argument("campaign", metavar="ID")
    changes.add_argument("--window", metavar="SPEC", default=None)
    changes.add_argument("--deadline", metavar="WHEN", default=None)
    changes.add_argument("--sender", metavar="NAME", default=None,
                         help="who sends: the campaign's text must name it")
    changes.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(changes)
    listing = actions.add_parser("list", help="every campaign, its status and counts")
    listing.add_argument("--json", action="store_true")
    add_config_option(listing)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    result: int = trio.run(_run, settings_from(args), args)
    return result


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    async with open_redis(settings) as redis:
        admin = CampaignAdmin(redis, Keys(settings.redis.key_prefix))
        try:
            if args.action == "list":
                _print_list(await _list(redis, admin, Keys(settings.redis.key_prefix)),
                            args.json)
            elif args.action == "set":
                await _set(redis, admin, Keys(settings.redis.key_prefix), args)
            elif args.action == "share":
                share = await admin.share(args.campaign, args.weight, args.priority)
                _said(args, f"campaign {args.campaign}: weight {share.weight:g}, priority "
                            f"{share.priority}", weight=share.weight, priority=share.priority)
            elif args.action == "cancel":
                cancelled = await admin.cancel(args.campaign)
                _said(args, f"campaign {args.campaign} cancelled: {cancelled:,} queued "
                            f"messages cancelled", status="cancelled", cancelled=cancelled)
            else:
                await getattr(admin, args.action)(args.campaign)
                now = await admin.status(args.campaign)
                _said(args, f"campaign {args.campaign}: {now}", status=now)
        except (CampaignNotFound, ValueError) as exc:
            raise UserError(str(exc)) from None
    return 0


def _said(args: argparse.Namespace, line: str, **fields: Any) -> None:
    """What a change did: one line, or with --json one object (scripts read that)."""
    if args.json:
        print(json.dumps({"campaign": args.campaign, **fields}))
    else:
        print(line)


async def _set(redis: Redis, admin: CampaignAdmin, keys: Keys, args: argparse.Namespace
               ) -> None:
    wanted = {field: value for field, value in ((WINDOW, args.window),
                                                (DEADLINE, args.deadline),
                                                (SENDER_IDENTITY, args.sender))
              if value is not None}
    if not wanted:
        raise UserError("give --window, --deadline or --sender")
    await admin.status(args.campaign)  # CampaignNotFound first
    _check_changes(await MetaStore(redis, keys).read(args.campaign), wanted)
    before = await admin.set(args.campaign, wanted, _who())
    changed = {field: {"old": before[field], "new": value} for field, value in wanted.items()}
    if args.json:
        print(json.dumps({"campaign": args.campaign, "changes": changed}))
        return
    for field, change in changed.items():
        print(f"campaign {args.campaign}: {field} {change['old'] or '(none)'!r} -> "
              f"{change['new'] or '(none)'!r} (audited; every daemon applies it within about "
              f"a second)")


def _who() -> str:
    """Who changes the campaign, for its audit: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous user)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _check_changes(meta: CampaignMeta, wanted: dict[str, str]) -> None:
    """What enqueue would refuse is refused here too: a window or deadline the daemon
    cannot use, a deadline already past, a sender the text does not name."""
    try:
        check_schedule(wanted.get(WINDOW, meta.schedule.window or ""),
                       wanted.get(DEADLINE, meta.schedule.deadline or ""),
                       meta.schedule.channel)
    except EnqueueError as exc:
        raise UserError(str(exc)) from None
    sender = wanted.get(SENDER_IDENTITY)
    if sender is not None:
        spoken = meta.preamble if meta.voice else (meta.text or "")
        try:
            named = names_sender(spoken, sender)
        except ValueError as exc:
            raise UserError(f"--sender: {exc}") from None
        if not named:
            raise UserError(f"--sender: the campaign's {'preamble' if meta.voice else 'text'} "
                            f"does not name {sender!r}")


async def _list(redis: Redis, admin: CampaignAdmin, keys: Keys) -> list[dict[str, Any]]:
    """Every campaign, shown "finished" when nothing is left to send or hear back about,
    with when the retention pass saw it so (`finished_at`, None: not yet), and how many
    of its messages were sent."""
    rows = await admin.list()
    marks = await finished_marks(redis, keys, [row["campaign"] for row in rows])
    for row in rows:
        row["finished_at"] = marks[row["campaign"]]
        row["status"] = shown_status(row["status"], row["counts"], row["finished_at"])
        row["sent"] = sent(row["counts"])
    return rows


def sent(counts: dict[str, int]) -> int:
    """Messages handed to a gateway: submitted (awaiting their receipt), delivered and
    failed (refused, or reported undelivered). Not the expired ones: most never left
    (their deadline came first)."""
    return counts[SUBMITTED] + counts[DELIVERED] + counts[FAILED]


def _print_list(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"campaigns": rows}))
        return
    console = Console()
    console.print(list_table(rows))
    for row in rows:  # a column of its own would not fit 80 columns
        if row["overrides"]:
            codes = ", ".join(code.removeprefix("missing_") for code in row["overrides"])
            console.print(Text(f"{row['campaign']}: lint override: {codes}"))


def list_table(rows: list[dict[str, Any]]) -> Table:
    """campaign, status, gateway and counts: fits 80 columns (commands/tables.py)."""
    table = new_table("campaigns")
    text_column(table, "campaign")
    table.add_column("status", no_wrap=True)
    text_column(table, "gateway", max_width=12)
    for header in ("queued", "sent", "delivered", "failed"):
        count_column(table, header)
    for row in rows:
        counts = row["counts"]
        table.add_row(Text(row["campaign"]), row["status"], Text(row["gateway"]),
                      count(counts[QUEUED]), count(row["sent"]), count(counts[DELIVERED]),
                      count(counts[FAILED]))
    return table
