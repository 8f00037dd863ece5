"""`dispatch status`: messages by state, per campaign and in total; a voice campaign's calls
by outcome."""

from __future__ import annotations

import argparse
import json

import trio
from rich.console import Console
from rich.table import Table

from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.call_counts import CallCounts
from dispatch.store.redis import open_redis
from dispatch.store.status import Counts, campaign_ids, state_counts, totals
from dispatch.vocabulary import CallOutcome

ENDS = frozenset(str(outcome) for outcome in CallOutcome)  # every call placed ends once
CALL_COLUMNS = {"calls": "calls placed", "human": "a person", "machine": "a machine",
                "no_answer": "no answer", "busy": "busy", "failed": "failed",
                "unknown": "fate unknown", "opted_out": "pressed 9"}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="messages by state, per campaign",
                                   description="Counts of messages by state.")
    add_config_option(parser)
    parser.add_argument("--campaign", metavar="ID", help="only this campaign")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    per_campaign, calls = trio.run(read_status, settings_from(args), args.campaign)
    total = totals(per_campaign)
    if args.json:
        print(json.dumps({"campaigns": per_campaign, "totals": total, "calls": calls}))
    else:
        _print_table(per_campaign, total)
        if calls:
            _print_calls(calls)
    return 0


async def read_status(settings: Settings, campaign: str | None
                      ) -> tuple[dict[str, Counts], dict[str, dict[str, int]]]:
    """Messages by state per campaign, and the calls of the voice campaigns by outcome."""
    keys = Keys(settings.redis.key_prefix)
    async with open_redis(settings) as redis:
        known = await campaign_ids(redis, keys)
        if campaign is not None and campaign not in known:
            raise UserError(f"no campaign {campaign!r}")
        wanted = [campaign] if campaign else known
        calls = await CallCounts(redis, keys).read(wanted)
        return await state_counts(redis, keys, wanted), {
            name: {**outcomes, "calls": sum(n for o, n in outcomes.items() if o in ENDS)}
            for name, outcomes in calls.items()}


def _print_calls(calls: dict[str, dict[str, int]]) -> None:
    table = Table(title="calls by outcome")
    table.add_column("campaign")
    for column in CALL_COLUMNS:
        table.add_column(CALL_COLUMNS[column], justify="right")
    for campaign, outcomes in calls.items():
        table.add_row(campaign, *(f"{outcomes.get(c, 0):,}" for c in CALL_COLUMNS))
    Console().print(table)


def _print_table(per_campaign: dict[str, Counts], total: Counts) -> None:
    states = list(total)
    table = Table(title="dispatch status")
    table.add_column("campaign")
    for state in states:
        table.add_column(state, justify="right")
    for campaign, counts in per_campaign.items():
        table.add_row(campaign, *(f"{counts.get(s, 0):,}" for s in states))
    table.add_row("[bold]total[/bold]", *(f"[bold]{total[s]:,}[/bold]" for s in states))
    Console().print(table)
