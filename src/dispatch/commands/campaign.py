"""`dispatch campaign pause|resume|cancel ID`, `dispatch campaign share ID [--weight W]
[--priority P]` and `dispatch campaign list [--json]`."""

from __future__ import annotations

import argparse
import json
from typing import Any

import trio
from rich.console import Console
from rich.table import Table

from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.campaign_admin import CampaignAdmin, CampaignNotFound
from dispatch.store.redis import open_redis


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "campaign", help="pause, resume, cancel or list campaigns",
        description="Pause and resume take effect within about a second on every daemon; "
                    "cancel is final: unsent messages end cancelled.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name in ("pause", "resume", "cancel"):
        action = actions.add_parser(name, help=f"{name} a campaign")
        action.add_argument("campaign", metavar="ID")
        add_config_option(action)
    share = actions.add_parser(
        "share", help="how a campaign shares its pool's lines with the others",
        description="A higher priority goes first; campaigns of one priority share the "
                    "lines in proportion to their weight (default 1). Every daemon applies "
                    "it within about a second.")
    share.add_argument("campaign", metavar="ID")
    share.add_argument("--weight", type=float, default=None, help="0.01 to 1000")
    share.add_argument("--priority", type=int, default=None, help="-100 to 100")
    add_config_option(share)
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
                _print_list(await admin.list(), args.json)
            elif args.action == "share":
                share = await admin.share(args.campaign, args.weight, args.priority)
                print(f"campaign {args.campaign}: weight {share.weight:g}, "
                      f"priority {share.priority}")
            elif args.action == "cancel":
                cancelled = await admin.cancel(args.campaign)
                print(f"campaign {args.campaign} cancelled: {cancelled:,} queued messages "
                      "cancelled")
            else:
                await getattr(admin, args.action)(args.campaign)
                print(f"campaign {args.campaign}: {await admin.status(args.campaign)}")
        except (CampaignNotFound, ValueError) as exc:
            raise UserError(str(exc)) from None
    return 0


def _print_list(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"campaigns": rows}))
        return
    table = Table(title="campaigns")
    for column in ("campaign", "status", "gateway", "queued", "sent", "delivered", "failed",
                   "override"):
        table.add_column(column)
    for row in rows:
        counts = row["counts"]
        sent = counts["submitted"] + counts["delivered"] + counts["failed"] + counts["expired"]
        table.add_row(row["campaign"], row["status"], row["gateway"], f"{counts['queued']:,}",
                      f"{sent:,}", f"{counts['delivered']:,}", f"{counts['failed']:,}",
                      ", ".join(code.removeprefix("missing_") for code in row["overrides"]))
    Console().print(table)
