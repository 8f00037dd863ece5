"""Renaming the keys written before the Cluster hash tags (keys.py) to their new names, once.

Until layout 2, the opt-out sets, their numbers and audit, the replies and answers, the
receipt maps and the reservations had names without a hash tag. A deployment upgraded in
place keeps its data: the first process that opens Redis renames them (a single Redis takes
a RENAME between any two keys; a Cluster never held the old names) and marks the layout done.
The changes made to campaigns, once one stream, go to each campaign's own. A fresh
deployment (no hash secret, no campaign: nothing was ever written) is marked at once,
without a SCAN.

Whatever an older daemon still running wrote to an old name after the rename is merged into
the new one when this runs again (at the next start of any command): sets by union, hashes
field by field (the new name's value kept), streams appended to the new one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import trio
from coredis.tokens import PureToken

from dispatch.keys import Keys
from dispatch.store.globs import glob_escape
from dispatch.store.resp import text

LAYOUT: Final = "2"
SCAN_CHUNK: Final = 1000
LOCK_S: Final = 60  # the renaming process holds the lock this long at most
LOCK_POLL_S: Final = 0.2

log = logging.getLogger(__name__)


async def upgrade_layout(redis: Any, keys: Keys) -> int:
    """Rename the keys of an older layout under `keys.prefix`; how many were moved."""
    if await redis.get(keys.layout) == LAYOUT.encode():
        return 0
    if not await redis.exists([keys.hash_key, keys.campaigns]):  # nothing ever written
        await redis.set(keys.layout, LAYOUT)
        return 0
    # One process renames (the workers of `--processes N` open Redis at the same moment);
    # the others wait for its mark. A process that dies meanwhile frees it in LOCK_S.
    while not await redis.set(f"{keys.layout}:lock", "1", condition=PureToken.NX,
                              ex=LOCK_S):
        await trio.sleep(LOCK_POLL_S)
        if await redis.get(keys.layout) == LAYOUT.encode():
            return 0
    try:
        moved = 0
        async for old, new in old_names(redis, keys):
            moved += await (_move(redis, old, new) if new else
                            _split_changes(redis, keys, old))
        if moved:
            log.warning("moved %d keys to the Redis Cluster layout (hash tags)", moved)
        await redis.set(keys.layout, LAYOUT)
        return moved
    finally:
        await redis.delete([f"{keys.layout}:lock"])


async def old_names(redis: Any, keys: Keys) -> AsyncIterator[tuple[str, str]]:
    """(old name, new name) of every key of the older layout that exists."""
    prefix = keys.prefix
    fixed = {f"{prefix}:inbound": keys.inbound, f"{prefix}:answers": keys.answers,
             f"{prefix}:answers:numbers": keys.answer_numbers,
             f"{prefix}:answers:log": keys.answers_log}
    for old, new in fixed.items():
        if await redis.exists([old]):
            yield old, new
    changes = f"{prefix}:campaigns:changes"
    if await redis.exists([changes]):
        yield changes, ""  # one stream for every campaign: split (_split_changes)
    async for old in _scan(redis, f"{prefix}:optout:"):
        yield old, keys.optout(old.removeprefix(f"{prefix}:optout:"))
    async for old in _scan(redis, f"{prefix}:dlr:"):
        rest = old.removeprefix(f"{prefix}:dlr:")
        yield old, keys.orphan_receipts if rest == "orphans" else keys.receipt_map(int(rest))
    async for old in _scan(redis, f"{prefix}:reserve:"):
        election, _, bucket = old.removeprefix(f"{prefix}:reserve:").rpartition(":")
        yield old, keys.reservation_bucket(election, bucket)


async def _scan(redis: Any, start: str) -> AsyncIterator[str]:
    """Keys whose names begin with `start` (literally)."""
    async for key in redis.scan_iter(match=glob_escape(start) + "*", count=SCAN_CHUNK):
        yield key.decode()


async def _move(redis: Any, old: str, new: str) -> int:
    """`old` renamed `new`, or merged into it when both exist; 1 if something moved."""
    if await redis.renamenx(old, new):
        return 1
    kind = text(await redis.type(old))
    if kind == "none":  # renamed meanwhile by another process
        return 0
    await _merge(redis, kind, old, new)
    await redis.delete([old])
    return 1


async def _split_changes(redis: Any, keys: Keys, old: str) -> int:
    """The changes of every campaign, once in one stream, appended to each campaign's
    own (CampaignKeys.changes: written in one transaction with the change)."""
    async for entries in _stream_chunks(redis, old):
        for entry in entries:
            fields = dict(entry.field_values)
            campaign = text(fields.get(b"campaign", b""))
            await redis.xadd(keys.campaign(campaign).changes, fields)
    await redis.delete([old])
    return 1


async def _stream_chunks(redis: Any, key: str) -> AsyncIterator[list[Any]]:
    """The entries of the stream `key`, in order, a chunk at a time."""
    after = "-"
    while entries := await redis.xrange(key, after, "+", count=SCAN_CHUNK):
        yield entries
        after = "(" + text(entries[-1].identifier)


async def _merge(redis: Any, kind: str, old: str, new: str) -> None:
    if kind == "set":
        await redis.sunionstore([new, old], new)
    elif kind == "hash":
        async for name, value in redis.hscan_iter(old, count=SCAN_CHUNK):
            await redis.hsetnx(new, name, value)
    elif kind == "stream":
        # Entries keep their order, not their ids (the new stream has later ones).
        async for entries in _stream_chunks(redis, old):
            for entry in entries:
                await redis.xadd(new, dict(entry.field_values))
    else:
        raise ValueError(f"cannot merge a {kind} into {new}")

