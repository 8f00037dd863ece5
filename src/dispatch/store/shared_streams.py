"""The streams every campaign shares — inbound replies and the opt-out audit: reading them
whole (an access request, a purge) and erasing some of their entries for good.

Both are append-only logs without consumer groups, read by scanning: O(stream), which an
access request or a purge can afford. Erasing rewrites the stream (stream_rewrite.lua):
XDEL alone would leave the deleted entries' bytes in memory and in RDB files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from dispatch.keys import Keys
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script

CHUNK = 500
Entry = tuple[str, dict[str, str]]  # (entry id, fields), decoded


class StreamHasGroups(Exception):
    """A stream to rewrite has consumer groups, which a rewrite would lose."""


async def scan_stream(redis: Redis, key: str, chunk: int = CHUNK
                      ) -> AsyncIterator[list[Entry]]:
    """The stream's entries, oldest first, `chunk` at a time."""
    start = "-"
    while True:
        entries = await redis.xrange(key, start, "+", count=chunk)
        if not entries:
            return
        yield [_decoded(entry) for entry in entries]
        if len(entries) < chunk:
            return
        start = "(" + _decoded(entries[-1])[0]


def _decoded(entry: Any) -> Entry:
    fields = {k.decode(): v.decode(errors="replace")
              for k, v in (entry.field_values or {}).items()}
    return entry.identifier.decode(), fields


class StreamRewriter:
    """Drops or redacts marked entries of one shared stream, a chunk per script call."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._rewrite = redis.register_script(load_script("stream_rewrite"))

    async def drop(self, stream: str, entry_ids: Iterable[str]) -> None:
        """Remove these entries for good."""
        await self._run(stream, entry_ids, "drop", "", "")

    async def redact(self, stream: str, entry_ids: Iterable[str], field: str,
                     secret: str) -> None:
        """Replace `field` of these entries by "hash:" + its keyed hash (the opt-out hash)."""
        await self._run(stream, entry_ids, "redact", field, secret)

    async def _run(self, stream: str, entry_ids: Iterable[str], mode: str, field: str,
                   secret: str) -> None:
        copy = self._keys.rewrite(stream)
        marks = copy + ":marks"
        await self._redis.delete([copy, marks])  # what a crashed rewrite left
        if not await self._mark(marks, entry_ids):
            return
        if await self._redis.xinfo_groups(stream):
            await self._redis.delete([marks])
            raise StreamHasGroups(f"{stream} has consumer groups: not rewritten")
        after = "-"
        while True:
            reply: Any = await self._rewrite(keys=[stream, copy, marks],
                                             args=[after, CHUNK, mode, field, secret])
            if reply[0] == b"done":
                return
            after = reply[1].decode()

    async def _mark(self, marks: str, entry_ids: Iterable[str]) -> bool:
        """Put the ids in the marks set, in chunks; False when there are none."""
        batch: list[str] = []
        marked = False
        for entry_id in entry_ids:
            batch.append(entry_id)
            if len(batch) >= CHUNK:
                await self._redis.sadd(marks, batch)
                batch, marked = [], True
        if batch:
            await self._redis.sadd(marks, batch)
            marked = True
        if marked:
            await self._redis.expire(marks, 86400)
        return marked
