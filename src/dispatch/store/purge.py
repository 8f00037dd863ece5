"""Retention: erasing what a campaign holds about people, keeping its aggregates.

`purge_campaign` erases, for the campaign's numbers: their states (the recipient list),
consent records, failure reasons, queued bodies (the stream), receipt correlations, dead
letters, replies (inbound entries from those numbers), answers not yet sent to them, the
clear entry of those that opted out (their keyed hashes stay in the scope sets, so their
STOP still holds) and, in the opt-out audit, their number (replaced by its keyed hash). It
keeps the meta (totals, text as `purged_text`, client, election, created_at; `purged_at`
added) and the counts.

Order, safe while daemons run (each step is idempotent: a purge that stopped half-way is
finished by running it again):
  1. purge_mark.lua, atomically: refuse if messages are queued or in flight (unless
     forced), mark `purge_started_at` (enqueue refuses the campaign from then on), move
     `text` away (daemons that start later skip it) and RENAME the state hash to
     `purging`: running daemons find no state for its numbers any more, so they ack
     whatever they read or hold and write nothing (no receipt map, no error).
  2. the stream: trimmed to nothing, pending entries acked (the key and its consumer group
     stay: a daemon reading it would fail on a missing group).
  3. replies (stream rewritten), the numbers of unsent answers, then audit entries
     (rewritten), of the numbers in `purging`.
  4. opt-out clear entries of those numbers; 5. their receipt maps entries (SCAN dlr:*);
  6. the campaign's dead letters; 7. errors, consent, `purging` deleted (UNLINK); the
  election's reservations when no unpurged campaign of it is left; 8. `purged_at`.

One purge at a time, under the purge lock (purge_lock.py: it says who holds it, is
renewed while the purge runs, released even when the purge is cancelled, and a purge that
loses it stops there; the next one finishes it).

`purge_expired` is the automatic purge: a campaign with nothing queued, in flight or
awaiting a receipt gets `finished_at` the first time it is seen so (enqueue clears it
when it queues more); it is purged `retention_days` after that.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from dispatch.keys import Keys
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.purge_lock import LockHolder, purge_lock, read_holder
from dispatch.store.purge_steps import PurgeSteps
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script
from dispatch.store.status import campaign_ids
from dispatch.vocabulary import IN_FLIGHT, QUEUED, SUBMITTED

log = logging.getLogger(__name__)

RETENTION_DAYS = 60  # after a campaign ends (CNIL: prospection data at most two months)
DAY_S = 86_400


class PurgeError(Exception):
    """The purge cannot run; one line saying why."""


class CampaignBusy(PurgeError):
    """Messages are still queued or in flight (and the purge was not forced)."""


class PurgeLocked(PurgeError):
    """Another process holds the purge lock: `holder` says who (None: it just let go)."""

    def __init__(self, holder: LockHolder | None) -> None:
        self.holder = holder
        held = f" (held by {holder.describe()})" if holder else ""
        super().__init__(f"another purge is running{held}; try again when it has finished")


@dataclass
class PurgeReport:
    campaign: str
    numbers: int = 0  # numbers the campaign held, now erased
    unsent: int = 0  # messages queued or in flight dropped (--force)
    replies: int = 0  # inbound messages deleted
    answers: int = 0  # answers to those numbers not yet sent, deleted
    audit_redacted: int = 0  # opt-out audit entries whose number became a keyed hash
    optouts_cleared: int = 0  # clear opt-out entries deleted (the hashes stay)
    receipts: int = 0  # receipt correlations deleted
    dead_letters: int = 0
    purged_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


async def purge_campaign(redis: Redis, keys: Keys, campaign_id: str, *, force: bool = False,
                         now: float | None = None, region: str = "FR",
                         command: str = "dispatch purge") -> PurgeReport:
    """Erase what the campaign holds about people (see the module doc). `force`: even with
    messages queued or in flight (they are dropped unsent). `region`: how reply numbers
    written without a country code are read (the daemon's own default is FR). `command`:
    who purges, in the lock (shown to a purge refused meanwhile). Raises PurgeLocked when
    another purge runs, PurgeLockLost when the lock was lost half-way."""
    async with purge_lock(redis, keys, command) as held:
        if not held:
            raise PurgeLocked(await read_holder(redis, keys))
        return await _purge(redis, keys, campaign_id, force, now or time.time(), region)


async def purge_expired(redis: Redis, keys: Keys, now: float,
                        retention_days: int = RETENTION_DAYS, region: str = "FR",
                        command: str = "dispatch run") -> list[PurgeReport]:
    """Purge every campaign finished more than `retention_days` ago; also finishes a purge
    that stopped half-way. Returns nothing when another process is purging; raises
    PurgeLockLost when the lock was lost half-way."""
    async with purge_lock(redis, keys, command) as held:
        if not held:
            return []
        reports = []
        for campaign_id in await campaign_ids(redis, keys):
            if await _due(redis, keys, campaign_id, now, retention_days):
                try:
                    reports.append(await _purge(redis, keys, campaign_id, False, now, region))
                except PurgeError as exc:  # e.g. queued again since: not finished after all
                    log.warning("campaign %s not purged: %s", campaign_id, exc)
        return reports


async def _purge(redis: Redis, keys: Keys, campaign_id: str, force: bool, now: float,
                 region: str) -> PurgeReport:
    report = PurgeReport(campaign_id)
    await _mark(redis, keys, campaign_id, force, now, report)
    steps = PurgeSteps(redis, keys, campaign_id, region)
    await steps.empty_stream()
    report.replies = await steps.drop_replies()
    report.answers = await steps.drop_answers()
    report.audit_redacted = await steps.redact_audit()
    report.optouts_cleared = await steps.clear_optouts()
    report.receipts = await steps.drop_receipts()
    report.dead_letters = await steps.drop_dead_letters()
    await steps.delete_keys()
    await steps.release_election()
    report.purged_at = now
    await MetaStore(redis, keys).mark_purged(campaign_id, now)
    return report


async def _mark(redis: Redis, keys: Keys, campaign_id: str, force: bool, now: float,
                report: PurgeReport) -> None:
    ckeys = keys.campaign(campaign_id)
    script = redis.register_script(load_script("purge_mark"))
    reply: Any = await script(keys=[ckeys.meta, ckeys.counts, ckeys.state,
                                    keys.purging(campaign_id)],
                              args=[f"{now:.0f}", "1" if force else "0"])
    status = reply[0].decode()
    if status == "missing":
        raise PurgeError(f"no campaign {campaign_id!r}")
    if status == "done":
        raise PurgeError(f"campaign {campaign_id!r} was already purged")
    if status == "busy":
        raise CampaignBusy(f"campaign {campaign_id!r} still has {int(reply[1]):,} queued and "
                           f"{int(reply[2]):,} in-flight messages: wait until they are sent, "
                           f"or use --force to drop them")
    report.numbers = int(reply[1])
    report.unsent = await MetaStore(redis, keys).purged_unsent(campaign_id)


async def _due(redis: Redis, keys: Keys, campaign_id: str, now: float,
               retention_days: int) -> bool:
    """Whether the campaign's retention is over; stamps or clears `finished_at` on the way."""
    meta = MetaStore(redis, keys)
    marks = await meta.retention_marks(campaign_id)
    if marks.purged_at is not None:
        return False
    if marks.purge_started_at is not None:
        return True  # a purge that stopped half-way
    counts = await redis.hmget(keys.campaign(campaign_id).counts,
                               [QUEUED, IN_FLIGHT, SUBMITTED])
    if any(int(value or 0) > 0 for value in counts):
        if marks.finished_at is not None:
            await meta.clear_finished(campaign_id)
        return False
    finished_at = marks.finished_at
    if finished_at is None:  # finished now: its retention starts
        await meta.stamp_finished(campaign_id, now)
        finished_at = now
    return now - finished_at >= retention_days * DAY_S
