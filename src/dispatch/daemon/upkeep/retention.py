"""The automatic retention purge: campaigns erased `retention.days` after they end.

Every daemon runs it; a lock in Redis lets one purge at a time (a pass finding it held by
another process skips), and a purge interrupted half-way (the daemon stopped, the lock
lost) is finished by the next pass. The lock is released even when the daemon stops
mid-purge (store/purge_lock.py). Logs carry campaign ids and counts, never numbers.
"""

from __future__ import annotations

import logging
import time

import trio

from dispatch.keys import Keys
from dispatch.settings import RetentionSettings
from dispatch.store.purge import purge_expired
from dispatch.store.purge_lock import PurgeLockLost
from dispatch.store.redis import REDIS_ERRORS, Redis, is_transient

log = logging.getLogger(__name__)


async def purge_forever(redis: Redis, keys: Keys, retention: RetentionSettings,
                        region: str, consumer: str = "") -> None:
    """`consumer`: the daemon's consumer name, shown with its host and pid to whoever
    finds the purge lock held by this daemon."""
    if retention.days == 0:
        return  # retention switched off by configuration
    command = f"dispatch run consumer {consumer}" if consumer else "dispatch run"
    while True:
        await _purge_once(redis, keys, retention, region, command)
        await trio.sleep(retention.interval_s)


async def _purge_once(redis: Redis, keys: Keys, retention: RetentionSettings, region: str,
                      command: str) -> None:
    try:
        reports = await purge_expired(redis, keys, time.time(), retention.days, region,
                                      command)
    except REDIS_ERRORS as exc:
        if not is_transient(exc):
            raise
        log.warning("retention purge skipped this time (%s: %s)", type(exc).__name__, exc)
    except PurgeLockLost as exc:
        log.error("retention purge stopped: %s", exc)
    else:
        for report in reports:
            log.info("campaign %s purged %d days after it ended: %d numbers erased",
                     report.campaign, retention.days, report.numbers)
