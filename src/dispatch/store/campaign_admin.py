"""Operating on campaigns: pause, resume, cancel, share, set, list.

Pause and resume set the campaign's status in its meta; every daemon re-reads it about once
a second, stops reading (or resumes reading) the campaign's stream, and holds back messages
it already has. Cancel is final: queued messages become cancelled here, in chunks; the
messages daemons hold end cancelled unless already submitted. A campaign's share (weight
and priority among the campaigns of its pool) is re-read the same way. `set` changes a
campaign's window, deadline or sender on purpose (a top-up cannot: enqueue refuses a file
that would), one audit entry per field, and every daemon loads the campaign again.
"""

from __future__ import annotations

import time
from typing import Any

from dispatch.keys import Keys
from dispatch.model import ACTIVE, CANCELLED, PAUSED, Share
from dispatch.store.campaign_meta import DEADLINE, SENDER_IDENTITY, WINDOW, MetaStore
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script
from dispatch.store.status import state_counts
from dispatch.vocabulary import StateCode

CHUNK = 1000
_QUEUED = StateCode.QUEUED.encode()  # as HSCAN gives it


class CampaignNotFound(LookupError):
    pass


class CampaignAdmin:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._meta = MetaStore(redis, keys)
        self._cancel = redis.register_script(load_script("cancel", states=True))

    async def status(self, campaign: str) -> str:
        await self._check_exists(campaign)
        return await self._meta.status(campaign)

    async def pause(self, campaign: str) -> None:
        await self._set(campaign, PAUSED)

    async def resume(self, campaign: str) -> None:
        await self._set(campaign, ACTIVE)

    async def cancel(self, campaign: str) -> int:
        """Cancel, and turn its queued messages cancelled; returns how many."""
        await self._set(campaign, CANCELLED)
        keys = self._keys.campaign(campaign)
        cancelled, cursor = 0, 0
        while True:
            cursor, chunk = await self._redis.hscan(keys.state, cursor, count=CHUNK)
            numbers = [number for number, code in chunk.items() if code == _QUEUED]
            if numbers:
                cancelled += int(await self._cancel(keys=[keys.state, keys.counts],
                                                    args=numbers))
            if not cursor:
                return cancelled

    async def share(self, campaign: str, weight: float | None, priority: int | None
                    ) -> Share:
        """Change its weight and/or priority; returns the share now in force."""
        await self._check_exists(campaign)
        current = await self._meta.share(campaign)
        share = Share.checked(current.weight if weight is None else weight,
                              current.priority if priority is None else priority)
        await self._meta.set_share(campaign, share)
        return share

    async def set(self, campaign: str, changes: dict[str, str], by: str) -> dict[str, str]:
        """Change a campaign's window, deadline or sender on purpose ("" removes it: the
        channel's default window, no deadline): audited, and reloaded by every daemon
        within about a second. Returns each field's value before."""
        await self._check_exists(campaign)
        meta = await self._meta.read(campaign)
        if meta.status == CANCELLED:
            raise ValueError(f"campaign {campaign!r} is cancelled: it cannot be changed")
        before = {WINDOW: meta.schedule.window or "", DEADLINE: meta.schedule.deadline or "",
                  SENDER_IDENTITY: meta.sender_identity}
        for field, value in changes.items():
            audit = {"field": field, "old": before[field], "new": value,
                     "at": f"{time.time():.3f}", "by": by}
            await self._meta.change(campaign, {field: value or None}, audit)
        return {field: before[field] for field in changes}

    async def list(self) -> list[dict[str, Any]]:
        ids = await self._meta.campaign_ids()
        counts = await state_counts(self._redis, self._keys, ids)
        return [{"campaign": meta.campaign_id, "status": meta.status, "gateway": meta.gateway,
                 "created_at": meta.created_at or 0, "sender": meta.sender_identity,
                 "pool": meta.pool, **vars(meta.share), "overrides": meta.overrides,
                 "counts": counts[meta.campaign_id]}
                for meta in await self._meta.read_many(ids)]

    async def _set(self, campaign: str, status: str) -> None:
        current = await self.status(campaign)
        if current == CANCELLED and status != CANCELLED:
            raise ValueError(f"campaign {campaign!r} is cancelled: it cannot be {status} again")
        await self._meta.set_status(campaign, status)

    async def _check_exists(self, campaign: str) -> None:
        if not await self._redis.sismember(self._keys.campaigns, campaign):
            raise CampaignNotFound(f"no campaign {campaign!r}")

