"""Reassembly of concatenated MO messages, bounded in memory, with no clock inside.

Parts are grouped by a key the caller builds — (source, destination, reference) — and
given back in sequence order once all `total` have arrived. Groups are held at most
`timeout_s` after their last part (the caller passes `now`) and at most `max_parts`
parts in all; a group dropped for either reason is handed back by `expire()`, never lost
silently, so the caller can deliver what it has.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Group(Generic[T]):
    total: int
    updated: float
    parts: dict[int, T] = field(default_factory=dict)

    def ordered(self) -> list[T]:
        return [self.parts[seq] for seq in sorted(self.parts)]


@dataclass(frozen=True, slots=True)
class Incomplete(Generic[T]):
    key: Hashable
    total: int
    parts: dict[int, T]  # sequence number -> part, the ones that did arrive
    reason: str  # "expired", "evicted" (memory bound) or "replaced" (reference reused)


class Reassembler(Generic[T]):
    def __init__(self, *, max_parts: int = 10_000, timeout_s: float = 600.0) -> None:
        self.max_parts = max_parts
        self.timeout_s = timeout_s
        self.duplicates = 0
        self._groups: dict[Hashable, _Group[T]] = {}  # least recently updated first
        self._held = 0
        self._dropped: list[Incomplete[T]] = []

    @property
    def parts_held(self) -> int:
        return self._held

    def add(self, key: Hashable, total: int, sequence: int, part: T,
            now: float) -> list[T] | None:
        """The whole message's parts in order if this part completes it, else None.

        A part already held (same key and sequence) is a duplicate: kept once, counted.
        """
        if not 1 <= sequence <= total:
            raise ValueError(f"part {sequence} of {total}: sequence must be within 1..total")
        group = self._group(key, total, now)
        if sequence in group.parts:
            self.duplicates += 1
            return None
        group.parts[sequence] = part
        self._held += 1
        if len(group.parts) == total:
            self._remove(key)
            return group.ordered()
        self._enforce_bound()
        return None

    def _group(self, key: Hashable, total: int, now: float) -> _Group[T]:
        group = self._groups.pop(key, None)  # re-inserted last: most recently updated
        if group is not None and group.total != total:
            self._held -= len(group.parts)
            self._record(key, group, "replaced")
            group = None
        if group is None:
            group = _Group(total, now)
        group.updated = now
        self._groups[key] = group
        return group

    def expire(self, now: float) -> list[Incomplete[T]]:
        """Drop groups idle for timeout_s; return them and any dropped since the last call."""
        stale = []
        for key, group in self._groups.items():
            if now - group.updated < self.timeout_s:
                break  # the rest were updated later
            stale.append(key)
        for key in stale:
            self._record(key, self._remove(key), "expired")
        dropped, self._dropped = self._dropped, []
        return dropped

    def _enforce_bound(self) -> None:
        while self._held > self.max_parts and self._groups:
            key = next(iter(self._groups))
            self._record(key, self._remove(key), "evicted")

    def _remove(self, key: Hashable) -> _Group[T]:
        group = self._groups.pop(key)
        self._held -= len(group.parts)
        return group

    def _record(self, key: Hashable, group: _Group[T], reason: str) -> None:
        self._dropped.append(Incomplete(key, group.total, group.parts, reason))
