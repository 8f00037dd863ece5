"""Recording a submission and its receipt takes one call per group of keys (the receipt
maps, the campaign: two Redis Cluster slots). A crash between two calls loses nothing and
counts nothing twice (real Redis, the calls made one by one as a crash would leave them)."""

from __future__ import annotations

from pathlib import Path

import trio

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.queue import Entry, Queue
from dispatch.store.redis import Redis
from dispatch.store.scripts import ScriptHost
from dispatch.vocabulary import Outcome
from tests.daemon.test_queue import NUMBERS, counts, counts_of, items, pending, queued


async def admitted(redis: Redis, settings: Settings, tmp_path: Path,
                   scripts: ScriptHost | None) -> tuple[Queue, list[Entry]]:
    """Three messages queued, read and admitted (in flight)."""
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await queue.admit("c1", items(entries))
    return queue, entries


async def test_a_receipt_whose_correlation_was_not_forgotten_is_counted_repeated(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        queue, entries = await admitted(redis, settings, tmp_path, scripts)
        await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-0")])
        maps = queue.receipt_maps()
        [correlation] = (await redis.hgetall(maps.keys[0])).items()
        first = await queue.record_receipts([("gw-0", "d", "ok")], maps)
        assert first.counts == [1, 0, 0, 0, 0]
        # The daemon died after applying, before forgetting: the correlation is still in
        # its map, and the daemon started again knows nothing of it.
        assert await redis.hget(maps.keys[0], correlation[0]) == correlation[1]
        restarted = Queue(redis, keys, "worker-a")
        again = await restarted.record_receipts([("gw-0", "f", "late")], maps)
        assert again.counts == [0, 0, 0, 1, 0]
        await restarted.receipts.flush()
        assert await redis.hlen(maps.keys[0]) == 0
        assert (await counts(redis, settings))["delivered"] == 1
        assert await redis.hget(keys.campaign("c1").errors, NUMBERS[0]) is None


async def test_a_crash_between_the_correlation_and_the_record_sends_again_once(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    with trio.fail_after(10):
        queue, entries = await admitted(redis, settings, tmp_path, scripts)
        maps = queue.receipt_maps()
        # The correlation was written, then the daemon died before record.lua: the
        # message is still in flight and pending (it will be claimed and sent again).
        await queue.receipts.expect("c1", [("gw-first", NUMBERS[0])], maps.keys[0],
                                    3600, None)
        assert await pending(redis, settings) == 3
        # The first sending's receipt comes: it ends the message.
        applied = await queue.record_receipts([("gw-first", "d", "ok")], maps)
        assert applied.counts == [1, 0, 0, 0, 0]
        # The second sending is recorded (acked), its own receipt counted repeated.
        await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-again")])
        again = await queue.record_receipts([("gw-again", "d", "ok")], maps)
        assert again.counts == [0, 0, 0, 1, 0]
        assert await pending(redis, settings) == 2
        assert await counts(redis, settings) == counts_of(delivered=1, in_flight=2)


async def test_a_receipt_that_overtook_its_record_is_applied_once_and_unparked(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        queue, entries = await admitted(redis, settings, tmp_path, scripts)
        parked = await queue.record_receipts([("gw-1", "f", "refused")], queue.receipt_maps())
        assert parked.counts[4] == 1
        submitted, _, adopted = await queue.record(
            "c1", [Outcome(entries[1].entry_id, NUMBERS[1], "s", "gw-1")])
        assert (submitted, adopted) == (1, 1)
        assert await redis.hlen(keys.orphan_receipts) == 0
        assert await redis.hlen(queue.receipt_maps().keys[0]) == 0  # never expected
        assert (await counts(redis, settings))["failed"] == 1


async def test_the_next_lookup_forgets_the_receipts_applied_before_it(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    with trio.fail_after(10):
        queue, entries = await admitted(redis, settings, tmp_path, scripts)
        await queue.record("c1", [Outcome(e.entry_id, n, "s", f"gw-{i}")
                                  for i, (e, n) in enumerate(zip(entries, NUMBERS,
                                                                 strict=True))])
        maps = queue.receipt_maps()
        await queue.record_receipts([("gw-0", "d", "ok")], maps)
        assert await redis.hlen(maps.keys[0]) == 3  # applied, not yet forgotten
        await queue.record_receipts([("gw-1", "d", "ok")], maps)
        assert not await redis.hexists(maps.keys[0], "gw-0")  # taken along
        assert await redis.hexists(maps.keys[0], "gw-1")
        # A receipt repeated before its correlation is forgotten is counted repeated.
        repeated = await queue.record_receipts([("gw-1", "f", "late")], maps)
        assert repeated.counts == [0, 0, 0, 1, 0]
        await queue.receipts.flush()
        assert list(await redis.hkeys(maps.keys[0])) == [b"gw-2"]
        assert await counts(redis, settings) == counts_of(submitted=1, delivered=2)
