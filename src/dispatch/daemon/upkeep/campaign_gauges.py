"""The campaign series (dispatch_campaign_messages{campaign,state},
dispatch_queue_depth{campaign}), refreshed from Redis every few seconds by one daemon.

They describe Redis, not a daemon: with `--processes N` (or daemons on several hosts)
each daemon exporting them would multiply every sum over daemons. So only the daemon with
`daemon.campaign_metrics` on runs this (the supervisor leaves it on for worker 1 only).
One pipelined round trip per refresh, whatever the traffic; nothing on the hot path.
"""

from __future__ import annotations

import logging
from typing import Final

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.store.campaign_gauges import CampaignGauges
from dispatch.store.redis import REDIS_ERRORS, is_transient

log = logging.getLogger(__name__)

REFRESH_S: Final = 5.0


class CampaignGaugeRefresher:
    def __init__(self, store: CampaignGauges, metrics: DaemonMetrics,
                 every_s: float = REFRESH_S) -> None:
        self._store = store
        self._series = metrics.campaigns
        self._errors = metrics.redis_errors.labels("campaign_metrics")
        self._every_s = every_s

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            await self.refresh_once()
            await trio.sleep(self._every_s)

    async def refresh_once(self) -> None:
        try:
            campaigns = await self._store.read()
        except REDIS_ERRORS as exc:  # gauges: the next refresh says it again
            if not is_transient(exc):
                raise
            self._errors.inc()
            log.debug("campaign gauges not refreshed (%s: %s)", type(exc).__name__, exc)
            return
        self._series.update(campaigns)
