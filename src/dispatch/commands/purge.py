"""`dispatch purge --campaign ID [--force] [--json]`: erase what a campaign holds about
people, keeping its counts and totals. `dispatch purge --status [--json]`: whether a purge
is running, and who runs it; purges nothing.

Deleted for the campaign's numbers: the recipient list (states), consent records, failure
reasons, unsent messages, receipt correlations, dead letters, replies, and the clear
opt-out entries (the keyed hashes stay, so a STOP still holds); opt-out audit entries keep
a keyed hash instead of the number. A campaign with messages queued or in flight is
refused unless --force, which drops them unsent. A purge that stopped half-way is finished
by running it again. Campaigns are also purged automatically some days after they end.

One purge runs at a time (this command or a daemon's retention purge): another is refused
and told who holds the purge lock (host, pid, command, since when, when it expires).

Exit status: 0 purged (or --status shown, a purge running or not); 2 refused, one line on
stderr: another purge is running, the campaign is unknown, already purged or still has
messages queued or in flight (without --force), the purge lock was lost half-way (run it
again to finish), or a bad option or configuration; 130 interrupted (Ctrl-C: the lock is
let go; run it again to finish).
"""

from __future__ import annotations

import argparse
import json

import trio

from dispatch.commands.common import UserError, add_config_option, settings_from
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.purge import PurgeError, PurgeReport, purge_campaign
from dispatch.store.purge_lock import LockHolder, PurgeLockLost, read_holder
from dispatch.store.redis import open_redis


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("purge", help="erase a campaign's personal data",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--campaign", metavar="ID")
    target.add_argument("--status", action="store_true",
                        help="say whether a purge is running and who holds its lock; "
                             "purges nothing")
    parser.add_argument("--force", action="store_true",
                        help="purge even with messages queued or in flight (never sent)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.status:
        return show_status(args)
    report = trio.run(_purge, settings_from(args), args.campaign, args.force)
    print(json.dumps(report.to_json()) if args.json else summary(report))
    return 0


def show_status(args: argparse.Namespace) -> int:
    if args.force:
        raise UserError("--force purges: it does not go with --status")
    holder = trio.run(_holder, settings_from(args))
    if args.json:
        print(json.dumps({"running": holder is not None}
                         | (holder.to_json() if holder else {})))
    else:
        print(f"a purge is running: held by {holder.describe()}" if holder
              else "no purge running")
    return 0


async def _purge(settings: Settings, campaign: str, force: bool) -> PurgeReport:
    async with open_redis(settings) as redis:
        try:
            return await purge_campaign(redis, Keys(settings.redis.key_prefix), campaign,
                                        force=force, region=settings.enqueue.default_region)
        except (PurgeError, PurgeLockLost) as exc:
            raise UserError(str(exc)) from None


async def _holder(settings: Settings) -> LockHolder | None:
    async with open_redis(settings) as redis:
        return await read_holder(redis, Keys(settings.redis.key_prefix))


def summary(report: PurgeReport) -> str:
    unsent = f", {report.unsent:,} unsent messages dropped" if report.unsent else ""
    return (f"campaign {report.campaign} purged: {report.numbers:,} numbers erased{unsent}; "
            f"{report.replies:,} replies, {report.answers:,} unsent answers, "
            f"{report.receipts:,} receipt correlations and "
            f"{report.dead_letters:,} dead letters deleted; {report.optouts_cleared:,} "
            f"opt-outs kept as keyed hashes only, {report.audit_redacted:,} audit entries "
            f"redacted; counts kept")
