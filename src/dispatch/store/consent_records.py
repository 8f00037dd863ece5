"""The compact consent record of each number, as enqueue.lua stores it: msgpack
[source id, date, slot id], the ids of the campaign's texts (consent_texts.lua).

Built here rather than in the script: Redis CPU is what every process shares. A file
repeats a few texts, so ids are fetched once per run, and records cached per consent.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgpack

from dispatch.consent import NO_CONSENT, Consent
from dispatch.keys import Keys
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script

_NIL = b"\xc0"
_CACHE_MAX = 8192


class ConsentRecords:
    def __init__(self, redis: Redis, keys: Keys, campaign_id: str) -> None:
        self._texts_key = keys.consent_texts(campaign_id)
        self._ids: dict[str, int] = {}
        self._records: dict[Consent, bytes] = {NO_CONSENT: b""}
        self._allocate = redis.register_script(load_script("consent_texts"))

    async def records(self, consents: Sequence[Consent]) -> list[bytes]:
        """The record of each consent (b"" for none), with one script call at most for the
        texts this run has not seen yet."""
        await self._learn(consents)
        if len(self._records) > _CACHE_MAX:
            self._records = {NO_CONSENT: b""}
        return [self._record(consent) for consent in consents]

    def _record(self, consent: Consent) -> bytes:
        record = self._records.get(consent)
        if record is None:
            record = self._records[consent] = b"".join((
                b"\x93", self._packed_id(consent.source), consent.date or _NIL,
                self._packed_id(consent.slot)))
        return record

    def _packed_id(self, text: str | None) -> bytes:
        if text is None:
            return _NIL
        packed: bytes = msgpack.packb(self._ids[text])
        return packed

    async def _learn(self, consents: Sequence[Consent]) -> None:
        new = {text for consent in consents if consent not in self._records
               for text in (consent.source, consent.slot)
               if text is not None and text not in self._ids}
        if new:
            texts = list(new)
            ids: list[int] = await self._allocate(keys=[self._texts_key], args=texts)
            self._ids.update(zip(texts, (int(i) for i in ids), strict=True))
