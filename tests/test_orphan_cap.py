"""Receipts for unknown ids are parked up to a cap, the rest counted dropped; the parking
hash expires a fixed time after it was created, whatever is parked later. Real Redis."""

from __future__ import annotations

from pathlib import Path

import msgpack
import trio

from dispatch.enqueue import enqueue_file
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.queue import Queue
from dispatch.store.receipts import ORPHAN_TTL_S
from dispatch.store.redis import Redis
from dispatch.vocabulary import Outcome
from tests.texts import RULES, SIGNED


def forged(start: int, count: int) -> list[tuple[str, str, str]]:
    return [(f"forged-{n}", "f", "receipt rejected") for n in range(start, start + count)]


async def test_orphans_beyond_the_cap_are_dropped_and_counted(redis: Redis,
                                                              settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "w", orphan_cap=5)
    with trio.fail_after(10):
        first = await queue.record_receipts(forged(0, 3), queue.receipt_maps())
        second = await queue.record_receipts(forged(3, 4), queue.receipt_maps())
        third = await queue.record_receipts(forged(7, 2), queue.receipt_maps())
        assert (first.counts[4], first.dropped) == (3, 0)
        assert (second.counts[4], second.dropped) == (2, 2)
        assert (third.counts[4], third.dropped) == (0, 2)
        assert await redis.hlen(keys.orphan_receipts) == 5
        # The sweeper's expiries are never parked, nor counted dropped.
        swept = await queue.record_receipts(forged(9, 1), queue.receipt_maps(), park=False)
        assert (swept.counts[4], swept.dropped) == (0, 0)


async def test_parking_does_not_push_the_expiry_back(redis: Redis, settings: Settings
                                                     ) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "w")
    with trio.fail_after(10):
        await queue.record_receipts(forged(0, 1), queue.receipt_maps())
        assert 0 < await redis.ttl(keys.orphan_receipts) <= ORPHAN_TTL_S
        await redis.expire(keys.orphan_receipts, 100)  # as if created long ago
        await queue.record_receipts(forged(1, 1), queue.receipt_maps())
        assert await redis.ttl(keys.orphan_receipts) <= 100  # not reset by the park


async def test_a_full_hash_still_lets_known_receipts_through(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    path = tmp_path / "c.csv"
    path.write_text("phone\n+33612000001\n")
    await enqueue_file(redis, settings, path, "c1", "Hello. " + SIGNED,
                       consent_required=False, rules=RULES)
    queue = Queue(redis, keys, "w", orphan_cap=2)
    with trio.fail_after(10):
        [entry] = await queue.read_new(["c1"], 1, 100)
        number = msgpack.unpackb(entry.payload)[0]
        await queue.admit("c1", [(entry.entry_id, number)])
        await queue.record("c1", [Outcome(entry.entry_id, number, "s", "gw-real")])
        await queue.record_receipts(forged(0, 2), queue.receipt_maps())  # full
        mixed = await queue.record_receipts([*forged(2, 1), ("gw-real", "d", "ok")],
                                            queue.receipt_maps())
        assert mixed.counts == [1, 0, 0, 0, 0] and mixed.dropped == 1
