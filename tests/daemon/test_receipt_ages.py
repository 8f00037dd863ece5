"""Receipt latency, tallied where receipts are recorded (receipt_apply.lua): the
correlation carries its submission's time, the script counts each applied receipt's age in
buckets per campaign, and nothing per receipt comes back. On a real Redis, through coredis
and through the daemon's script link alike."""

from __future__ import annotations

from pathlib import Path

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.queue import Queue
from dispatch.store.receipts import AgeCounts, ReceiptMaps
from dispatch.store.redis import Redis
from dispatch.store.scripts import ScriptHost
from dispatch.vocabulary import Outcome
from tests.daemon.test_queue import NUMBERS, Clock, items, queued

BOUNDS = (1, 10, 600, 3600, 86400)
START = 1_800_000_000.0 + 1234.5  # not on an hour


async def recorded_at(redis: Redis, settings: Settings, tmp_path: Path,
                      scripts: ScriptHost | None, clock: Clock) -> Queue:
    """Three messages of c1 submitted at clock.now (gw-0, gw-1, gw-2)."""
    _, entries = await queued(redis, settings, tmp_path, scripts)
    queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a", scripts=scripts,
                  clock=clock)
    await queue.admit("c1", items(entries))
    await queue.record("c1", [Outcome(e.entry_id, n, "s", f"gw-{i}")
                              for i, (e, n) in enumerate(zip(entries, NUMBERS, strict=True))])
    return queue


async def test_each_applied_receipt_is_counted_by_age_in_its_bucket(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    clock = Clock(START)
    queue = await recorded_at(redis, settings, tmp_path, scripts, clock)
    clock.now += 7.0  # 7 s: the <= 10 s bucket
    first = await queue.record_receipts([("gw-0", "d", "ok")], queue.receipt_maps(),
                                        age_bounds_s=BOUNDS)
    assert first.counts == [1, 0, 0, 0, 0]
    assert first.ages == {"c1": AgeCounts(7.0, [0, 1, 0, 0, 0, 0])}
    # Two hours later (two receipt maps later: the age spans the hours), and a repeat of
    # gw-0, which is not counted again.
    clock.now += 2 * 3600
    later = await queue.record_receipts([("gw-1", "f", "undeliverable"), ("gw-0", "d", "ok")],
                                        queue.receipt_maps(), age_bounds_s=BOUNDS)
    # gw-0 found its correlation, not forgotten yet (this lookup takes it along): repeated.
    assert later.counts == [0, 1, 0, 1, 0]
    assert later.ages == {"c1": AgeCounts(7207.0, [0, 0, 0, 0, 1, 0])}
    # Past every bound (two days, the receipt timeout): the last bucket, +Inf.
    clock.now += 2 * 86400 - 2 * 3600
    last = await queue.record_receipts([("gw-2", "x", "expired")], queue.receipt_maps(),
                                       age_bounds_s=BOUNDS)
    assert last.counts == [0, 0, 1, 0, 0]
    assert last.ages == {"c1": AgeCounts(2 * 86400 + 7.0, [0, 0, 0, 0, 0, 1])}


async def test_ages_need_bounds_and_a_time_and_skip_unstamped_correlations(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    clock = Clock(START)
    queue = await recorded_at(redis, settings, tmp_path, scripts, clock)
    maps = queue.receipt_maps()
    # A correlation written before receipts were stamped (an older daemon): no age.
    await redis.hset(maps.keys[0], {"gw-1": f"c1\t{NUMBERS[1]}"})
    plain = await queue.record_receipts([("gw-0", "d", "ok")], maps)  # no bounds
    assert (plain.counts, plain.ages) == ([1, 0, 0, 0, 0], {})
    swept = await queue.record_receipts([("gw-2", "x", "none")], ReceiptMaps(maps.keys),
                                        age_bounds_s=BOUNDS)  # no time: the sweeper's
    assert (swept.counts, swept.ages) == ([0, 0, 1, 0, 0], {})
    old = await queue.record_receipts([("gw-1", "d", "ok")], maps, age_bounds_s=BOUNDS)
    assert (old.counts, old.ages) == ([1, 0, 0, 0, 0], {})


async def test_the_sweeper_still_reads_stamped_correlations(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    clock = Clock(START)
    queue = await recorded_at(redis, settings, tmp_path, scripts, clock)
    _, rows = await queue.scan_map(queue.receipt_maps().keys[0], 0, 100)
    assert sorted(rows) == [(f"gw-{i}", "c1", number) for i, number in enumerate(NUMBERS)]
    stamped = await redis.hget(queue.receipt_maps().keys[0], "gw-0")
    assert stamped == f"c1\t{NUMBERS[0]}\t{int((START % 3600) * 10)}".encode()
