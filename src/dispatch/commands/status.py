"""`dispatch status`: messages by state, per campaign and in total; each campaign's status
(finished when nothing is left), the messages waiting for their sending window and when
it opens; a voice campaign's calls by outcome. `--watch` refreshes until Ctrl-C, with each
campaign's rate and ETA."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final

import trio
from rich.console import Console, Group

from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.commands.status_view import (
    Pace,
    Snapshot,
    as_json,
    paces,
    progress_of,
    renderables,
)
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.call_counts import CallCounts
from dispatch.store.overview import read_views
from dispatch.store.redis import Redis, open_redis
from dispatch.store.status import campaign_ids
from dispatch.vocabulary import CallOutcome

ENDS: Final = frozenset(str(outcome) for outcome in CallOutcome)  # every call ends once
DEFAULT_EVERY_S: Final = 2.0
# Shows one refresh: (what was read, the paces since the previous one, or None).
Show = Callable[[Snapshot, Mapping[str, Pace] | None], None]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status", help="messages by state, per campaign",
        description="Counts of messages by state, each campaign's status, the messages "
                    "waiting for their sending window and when it opens (mainland France "
                    "time).")
    add_config_option(parser)
    parser.add_argument("--campaign", metavar="ID", help="only this campaign")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (one per line under --watch)")
    parser.add_argument("--watch", metavar="SECONDS", nargs="?", type=float, default=None,
                        const=DEFAULT_EVERY_S,
                        help=f"refresh every SECONDS (default {DEFAULT_EVERY_S:g}) with each "
                             "campaign's rate and ETA, until Ctrl-C")
    parser.add_argument("--count", type=int, default=None, help=argparse.SUPPRESS)  # tests
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.watch is not None and args.watch <= 0:
        raise UserError(f"--watch: give a number of seconds above 0, got {args.watch:g}")
    show = json_show() if args.json else console_show(Console(), args.watch)
    if args.watch is None:
        trio.run(status_once, settings_from(args), args.campaign, show)
    else:
        trio.run(watch, settings_from(args), args.campaign, args.watch, show, args.count)
    return 0  # Ctrl-C under --watch is how it ends: not an error


def json_show() -> Show:
    def show(snapshot: Snapshot, campaign_paces: Mapping[str, Pace] | None) -> None:
        print(json.dumps(as_json(snapshot, campaign_paces)), flush=True)
    return show


def console_show(console: Console, every_s: float | None) -> Show:
    def show(snapshot: Snapshot, campaign_paces: Mapping[str, Pace] | None) -> None:
        if every_s is not None:
            console.clear()  # a terminal shows the latest refresh only (nothing if piped)
        console.print(Group(*renderables(snapshot, campaign_paces, every_s)))
    return show


async def status_once(settings: Settings, campaign: str | None, show: Show) -> None:
    keys = Keys(settings.redis.key_prefix)
    async with open_redis(settings) as redis:
        show(await read_snapshot(redis, keys, campaign), None)


async def watch(settings: Settings, campaign: str | None, every_s: float, show: Show,
                count: int | None = None) -> None:
    """Refresh every `every_s` until Ctrl-C (or `count` refreshes). SIGINT is taken as a
    signal, not as KeyboardInterrupt: it ends the watch cleanly, wherever it comes."""
    keys = Keys(settings.redis.key_prefix)
    with trio.open_signal_receiver(signal.SIGINT) as interrupts:
        async with open_redis(settings) as redis:
            await wanted_campaigns(redis, keys, campaign)  # an unknown --campaign: one line
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on_first, interrupts, nursery.cancel_scope)
                await refresh(redis, keys, campaign, every_s, show, count)
                nursery.cancel_scope.cancel()


async def _cancel_on_first(interrupts: AsyncIterator[int],
                           scope: trio.CancelScope) -> None:
    async for _ in interrupts:
        scope.cancel()
        return


async def refresh(redis: Redis, keys: Keys, campaign: str | None, every_s: float,
                  show: Show, count: int | None = None) -> None:
    """Read and show every `every_s`, with the paces since the previous read; `count`
    refreshes (None: until cancelled)."""
    before: Snapshot | None = None
    shown = 0
    while count is None or shown < count:
        if before is not None:
            await trio.sleep(every_s)
        snapshot = await read_snapshot(redis, keys, campaign)
        show(snapshot, None if before is None else paces(before, snapshot))
        before, shown = snapshot, shown + 1


async def read_snapshot(redis: Redis, keys: Keys, campaign: str | None,
                        now: float | None = None) -> Snapshot:
    """Everything one refresh shows, as of `now` (wall clock; default: the time now)."""
    wall = time.time() if now is None else now
    wanted = await wanted_campaigns(redis, keys, campaign)
    views = await read_views(redis, keys, wanted, wall)
    at = dt.datetime.fromtimestamp(wall, dt.UTC)
    calls = await CallCounts(redis, keys).read(wanted)
    return Snapshot(at, trio.current_time(),
                    {c: view.counts for c, view in views.items()},
                    {c: progress_of(view, at) for c, view in views.items()},
                    {name: {**outcomes, "calls": sum(n for o, n in outcomes.items()
                                                     if o in ENDS)}
                     for name, outcomes in calls.items()})


async def wanted_campaigns(redis: Redis, keys: Keys, campaign: str | None) -> list[str]:
    known = await campaign_ids(redis, keys)
    if campaign is not None and campaign not in known:
        raise UserError(f"no campaign {campaign!r}")
    return [campaign] if campaign else known
