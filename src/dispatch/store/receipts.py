"""Receipts: the correlations of submissions waiting for theirs, and applying them.

A submission's correlation (gateway id -> campaign, number, when) lives in the receipt map
of its hour; a final receipt finds it there and ends its message. The maps and the orphans
(receipts that came before their submission's record) share the hash tag `{dlr}`, the
messages their campaign's: in a Redis Cluster two slots, so each step is one call per slot,
ordered so that a crash between two calls loses nothing:

- recording a submission: its correlation first (receipt_expect.lua), then its state
  (record.lua, store/queue.py);
- recording receipts: find (receipt_find.lua), apply per campaign (receipt_apply.lua),
  then forget the correlations (with the next find, or receipt_forget.lua). Applying is
  idempotent: a receipt applied twice is counted repeated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from dispatch.keys import Keys
from dispatch.store.resp import text
from dispatch.store.scripts import ScriptHost, load_script, packed

# A receipt map outlives the receipt timeout by this much, so the sweeper finds it.
MAP_MARGIN_H: Final = 24
ORPHAN_TTL_S: Final = 3 * 86400
# Receipts for unknown ids parked at most (daemon.orphan_receipt_cap): forged ones grew
# Redis by ~100 bytes each, without end.
ORPHAN_CAP: Final = 100_000
# Correlations of applied receipts waiting to be forgotten (by the next lookup) at most:
# beyond, they are forgotten at once, in a call of their own.
FORGET_MAX: Final = 10_000
_UNKNOWN_AGE: Final = -1
_FIRST_MAP: Final = 2  # receipt_find.lua: KEYS[1] is the orphans hash, the maps follow


def hour_number(now: float) -> int:
    return int(now // 3600)


def into_hour_ds(now: float, hour: int) -> int:
    """Deciseconds from the start of `hour` to `now`: how the receipt maps stamp times."""
    return int((now - hour * 3600) * 10)


@dataclass(frozen=True)
class ReceiptMaps:
    """Where a receipt's correlation may be: the receipt maps, newest hour first, one hour
    apart; and when they are looked in (deciseconds since the newest hour began; None: the
    receipts' ages are not wanted, e.g. the sweeper's expiries)."""

    keys: list[str]
    now_ds: int | None = None


@dataclass(frozen=True)
class AgeCounts:
    """The ages (submission to final receipt) of a campaign's receipts recorded in one
    call: their sum in seconds and a count per bucket (each bound given, then above)."""

    sum_s: float
    buckets: list[int]


@dataclass(frozen=True)
class RecordedReceipts:
    counts: list[int]  # delivered, failed, expired, repeated (already final), parked
    ages: dict[str, AgeCounts] = field(default_factory=dict)  # by campaign
    dropped: int = 0  # unknown, not parked: the orphans hash was full


class _Found(NamedTuple):
    """A receipt whose correlation was found: its message, and where the correlation is.
    (A tuple: one a receipt, and a frozen dataclass costs twice as much to make.)"""

    campaign: str
    number: str
    code: str
    reason: str
    age_ds: int
    map_index: int
    gateway_id: str


@dataclass(frozen=True)
class _Taken:
    """Forgets taken for one call: its KEYS (the maps), and (index in KEYS, gateway id)
    pairs flattened."""

    keys: list[str]
    pairs: list[Any]
    ids: dict[str, list[str]]


class _Forgets:
    """The correlations of receipts applied, by receipt map, until a call deletes them:
    the next lookup in the same maps takes them along (one call fewer per batch of
    receipts: the daemon's CPU per message measured 2-2.5 us lower). Lost with the
    process, they stay in their map until the sweeper passes over them (their messages
    are final: nothing changes)."""

    def __init__(self) -> None:
        self._by_map: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._by_map.values())

    def add(self, map_key: str, gateway_id: str) -> None:
        self._by_map.setdefault(map_key, []).append(gateway_id)

    def map_keys(self) -> list[str]:
        return list(self._by_map)

    def take(self, keys: Sequence[str], first_index: int) -> _Taken:
        """The forgets of the maps among `keys`, removed from here; their indexes count
        KEYS from `first_index` (the position of keys[0] in the call's KEYS)."""
        pairs: list[Any] = []
        taken: dict[str, list[str]] = {}
        for index, key in enumerate(keys, start=first_index):
            ids = self._by_map.pop(key, None)
            if ids:
                taken[key] = ids
                for gateway_id in ids:
                    pairs += (index, gateway_id)
        return _Taken(list(keys), pairs, taken)

    def give_back(self, taken: _Taken) -> None:
        """Forgets whose call failed: kept for the next one."""
        for key, ids in taken.ids.items():
            self._by_map.setdefault(key, []).extend(ids)


class Receipts:
    def __init__(self, keys: Keys, host: ScriptHost, orphan_cap: int = ORPHAN_CAP) -> None:
        self._keys = keys
        self.orphan_cap = orphan_cap
        self._expect = host.register_script(load_script("receipt_expect"))
        self._find = host.register_script(load_script("receipt_find"))
        self._apply = host.register_script(load_script("receipt_apply", states=True))
        self._forget = host.register_script(load_script("receipt_forget"))
        self._forgets = _Forgets()

    async def expect(self, campaign: str, submitted: Sequence[tuple[str, str]],
                     map_key: str, map_ttl_s: int, stamp_ds: int | None
                     ) -> list[Any]:
        """Write the correlations of `submitted` (gateway id, number) in `map_key`; the
        receipts parked before them, as a flat list (gateway id, code, reason)."""
        flat: list[str] = []
        for gateway_id, number in submitted:
            flat += (gateway_id, number)
        stamp = "" if stamp_ds is None else stamp_ds
        found: list[Any] = await self._expect(
            keys=[map_key, self._keys.orphan_receipts],
            args=[map_ttl_s, campaign, stamp, packed(flat)])
        return found

    async def forget_orphans(self, gateway_ids: Sequence[str | bytes]) -> None:
        """Orphans adopted by a record (applied to their messages): deleted."""
        flat: list[Any] = []
        for gateway_id in gateway_ids:
            flat += (1, gateway_id)
        await self._forget(keys=[self._keys.orphan_receipts], args=[packed(flat)])

    async def record(self, receipts: Sequence[tuple[str, str, str]], maps: ReceiptMaps, *,
                     park: bool = True, age_bounds_s: Sequence[float] = ()
                     ) -> RecordedReceipts:
        """Final receipts (gateway id, code, reason) applied to their messages, whatever
        their campaigns; unknown ones parked until their submission is recorded, while
        fewer than `orphan_cap` are (beyond: counted dropped), or skipped (`park=False`).
        With `age_bounds_s` (ascending) and maps that say when (`now_ds`), the ages of the
        receipts applied are counted per campaign."""
        flat: list[str] = []
        for receipt in receipts:
            flat += receipt
        forgets = self._forgets.take(maps.keys, first_index=_FIRST_MAP)
        try:
            found, parked, dropped = await self._find(
                keys=[self._keys.orphan_receipts, *maps.keys],
                args=[ORPHAN_TTL_S, self.orphan_cap if park else 0, packed(flat),
                      packed(forgets.pairs)])
        except BaseException:
            self._forgets.give_back(forgets)
            raise
        timed = maps.now_ds is not None and bool(age_bounds_s)
        targets = _targets(found, receipts, maps.now_ds if timed else None)
        counts, ages = await self._apply_all(targets, tuple(age_bounds_s) if timed else ())
        for target in targets:
            self._forgets.add(maps.keys[target.map_index - _FIRST_MAP], target.gateway_id)
        if len(self._forgets) >= FORGET_MAX:
            await self.flush()
        return RecordedReceipts([*counts, int(parked)], ages, int(dropped))

    async def flush(self) -> None:
        """Forget, now, the correlations of the receipts applied that the next lookup has
        not taken along yet (the sweeper calls this every minute)."""
        forgets = self._forgets.take(self._forgets.map_keys(), first_index=1)
        if not forgets.pairs:
            return
        try:
            await self._forget(keys=forgets.keys, args=[packed(forgets.pairs)])
        except BaseException:
            self._forgets.give_back(forgets)
            raise

    async def _apply_all(self, targets: Sequence[_Found], bounds_s: tuple[float, ...]
                         ) -> tuple[list[int], dict[str, AgeCounts]]:
        """Each campaign's receipts applied (one call each): the summed counts
        (delivered, failed, expired, repeated) and each campaign's ages."""
        by_campaign: dict[str, list[_Found]] = {}
        for target in targets:
            by_campaign.setdefault(target.campaign, []).append(target)
        counts, ages = [0, 0, 0, 0], {}
        for campaign, found in by_campaign.items():
            reply = await self._apply_campaign(campaign, found, bounds_s)
            counts = [a + int(b) for a, b in zip(counts, reply[:4], strict=True)]
            if bounds_s and any(int(n) for n in reply[5:]):
                ages[campaign] = AgeCounts(int(reply[4]) / 10,
                                           [int(n) for n in reply[5:]])
        return counts, ages

    async def _apply_campaign(self, campaign: str, found: Sequence[_Found],
                              bounds_s: tuple[float, ...]) -> list[Any]:
        keys = self._keys.campaign(campaign)
        flat: list[Any] = []
        for target in found:
            flat += (target.number, target.code, target.reason,
                     target.age_ds if bounds_s else _UNKNOWN_AGE)
        reply: list[Any] = await self._apply(keys=[keys.state, keys.counts, keys.errors],
                                             args=[packed(flat), _packed_bounds(bounds_s)])
        return reply


def _targets(found: Sequence[Any], receipts: Sequence[tuple[str, str, str]],
             now_ds: int | None) -> list[_Found]:
    """receipt_find.lua's found (position, map index, correlation), with their receipts.
    The age: now, counted from the newest map's hour, less the stamp, counted from its own
    map's hour (an hour apart each)."""
    targets = []
    for start in range(0, len(found), 3):
        position, map_index, correlation = found[start:start + 3]
        gateway_id, code, reason = receipts[int(position) - 1]
        # "campaign<TAB>number", then "<TAB>submission time" when receipt_expect stamped it.
        campaign, number, *stamp = text(correlation).split("\t")
        hours_back = int(map_index) - _FIRST_MAP
        age = (now_ds + hours_back * 36000 - int(stamp[0])
               if now_ds is not None and stamp and stamp[0] else _UNKNOWN_AGE)
        targets.append(_Found(campaign, number, code, reason, age, int(map_index),
                              gateway_id))
    return targets



@functools.cache
def _packed_bounds(bounds_s: tuple[float, ...]) -> bytes:
    """Age bounds as receipt_apply.lua takes them: deciseconds, one packed argument."""
    return packed([round(bound * 10) for bound in bounds_s])
