"""The automatic retention purge: campaigns erased `retention.days` after they end.

Every daemon runs it; a lock in Redis lets one purge at a time, and a purge interrupted
half-way is finished by the next pass. Logs carry campaign ids and counts, never numbers.
"""

from __future__ import annotations

import logging
import time

import trio

from dispatch.keys import Keys
from dispatch.settings import RetentionSettings
from dispatch.store.purge import purge_expired
from dispatch.store.redis import TRANSIENT_ERRORS, Redis

log = logging.getLogger(__name__)


async def purge_forever(redis: Redis, keys: Keys, retention: RetentionSettings,
                        region: str) -> None:
    if retention.days == 0:
        return  # retention switched off by configuration
    while True:
        try:
            reports = await purge_expired(redis, keys, time.time(), retention.days, region)
        except TRANSIENT_ERRORS as exc:
            log.warning("retention purge skipped this time (%s: %s)", type(exc).__name__, exc)
        else:
            for report in reports:
                log.info("campaign %s purged %d days after it ended: %d numbers erased",
                         report.campaign, retention.days, report.numbers)
        await trio.sleep(retention.interval_s)
