"""The daemon's Lua scripts and stream operations, on a real Redis: the scripts and the
reads through coredis and through the daemon's links alike (the `scripts` fixture)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgpack
import pytest
import trio

from dispatch.enqueue import enqueue_file
from dispatch.keys import GROUP, Keys
from dispatch.settings import Settings
from dispatch.store.cluster_link import ClusterScriptLink
from dispatch.store.links import open_script_link
from dispatch.store.optout import OptOutEvent
from dispatch.store.queue import Entry, Queue
from dispatch.store.redis import Redis
from dispatch.store.script_link import ScriptError, ScriptLink
from dispatch.store.scripts import ScriptHost
from dispatch.store.status import state_counts
from dispatch.vocabulary import ALL_STATES, STATES_BY_CODE, Outcome
from tests.texts import RULES, SIGNED

NUMBERS = ["+33612000001", "+33612000002", "+33612000003"]


async def queued(redis: Redis, settings: Settings, tmp_path: Path,
                 scripts: ScriptHost | None = None, numbers: list[str] = NUMBERS
                 ) -> tuple[Queue, list[Entry]]:
    path = tmp_path / "c.csv"
    path.write_text("phone\n" + "\n".join(numbers) + "\n")
    await enqueue_file(redis, settings, path, "c1", "Hello. " + SIGNED,
                       consent_required=False, rules=RULES)
    # With a link, it reads too (the daemon gives reads a link of their own: a blocking read
    # holds its connection; these tests make one call at a time).
    reads = scripts if isinstance(scripts, (ScriptLink, ClusterScriptLink)) else None
    queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a", scripts=scripts,
                  reads=reads)
    entries = await queue.read_new(["c1"], len(numbers), 100)
    assert [msgpack.unpackb(e.payload)[0] for e in entries] == numbers
    return queue, entries


async def counts(redis: Redis, settings: Settings) -> dict[str, int]:
    return (await state_counts(redis, Keys(settings.redis.key_prefix), ["c1"]))["c1"]


def counts_of(**nonzero: int) -> dict[str, int]:
    """Every state's count: those given, zero for the others."""
    return {state: nonzero.get(state, 0) for state in ALL_STATES}


async def pending(redis: Redis, settings: Settings) -> int:
    stream = Keys(settings.redis.key_prefix).campaign("c1").stream
    summary = await redis.xpending(stream, GROUP)
    return int(summary.pending)


def items(entries: list[Entry]) -> list[tuple[bytes, str]]:
    return [(e.entry_id, n) for e, n in zip(entries, NUMBERS, strict=True)]


async def test_admit_marks_in_flight_and_is_idempotent(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    assert await queue.admit("c1", items(entries)) == [True, True, True]
    assert (await counts(redis, settings))["in_flight"] == 3
    # Admitted again (a restart re-reads its pending entries): still to be sent.
    assert await queue.admit("c1", items(entries)) == [True, True, True]
    assert (await counts(redis, settings))["queued"] == 0


async def test_record_sets_states_writes_reasons_and_acks(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await queue.admit("c1", items(entries))
    result = await queue.record("c1", [
        Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-1"),
        Outcome(entries[1].entry_id, NUMBERS[1], "f", "HTTP 400: invalid destination")])
    assert result == [1, 1, 0]
    assert await counts(redis, settings) == {
        "queued": 0, "in_flight": 1, "submitted": 1, "delivered": 0, "failed": 1,
        "expired": 0, "suppressed": 0, "cancelled": 0}
    assert await pending(redis, settings) == 1
    errors = Keys(settings.redis.key_prefix).campaign("c1").errors
    assert await redis.hget(errors, NUMBERS[1]) == b"HTTP 400: invalid destination"
    # Recorded twice (a reply lost, the call retried): nothing changes.
    again = await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-1")])
    assert again == [0, 0, 0]
    # A message already past sending is not admitted again, only acked.
    assert await queue.admit("c1", items(entries)[:2]) == [False, False]


async def test_receipt_after_record_is_applied_once(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await queue.admit("c1", items(entries))
    await queue.record("c1", [Outcome(e.entry_id, n, "s", f"gw-{i}")
                              for i, (e, n) in enumerate(zip(entries, NUMBERS, strict=True))])
    maps = queue.receipt_maps()
    receipts = [("gw-0", "d", "ok"), ("gw-1", "f", "undeliverable")]
    # {delivered, failed, expired, repeated, parked}
    assert (await queue.record_receipts(receipts, maps)).counts == [1, 1, 0, 0, 0]
    await queue.receipts.flush()  # else the next lookup forgets them (store/receipts.py)
    assert await redis.hlen(maps.keys[0]) == 1  # only gw-2's correlation is left
    # The same receipts again find no correlation: parked, and never applied twice.
    assert (await queue.record_receipts(receipts, maps)).counts == [0, 0, 0, 0, 2]
    errors = Keys(settings.redis.key_prefix).campaign("c1").errors
    assert await redis.hget(errors, NUMBERS[1]) == b"undeliverable"
    assert await counts(redis, settings) == counts_of(submitted=1, delivered=1, failed=1)


async def test_receipt_before_record_is_parked_then_adopted(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await queue.admit("c1", items(entries)[:1])
    # The gateway's receipt overtakes our record of its acceptance.
    assert (await queue.record_receipts([("gw-fast", "x", "expired")],
                                       queue.receipt_maps())).counts == [0, 0, 0, 0, 1]
    result = await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s",
                                               "gw-fast")])
    assert result == [1, 0, 1]
    current = await counts(redis, settings)
    assert current["expired"] == 1
    assert current["submitted"] == 0
    orphans = Keys(settings.redis.key_prefix).orphan_receipts
    assert await redis.hlen(orphans) == 0


async def test_a_live_consumer_claims_what_a_dead_one_left(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    _, entries = await queued(redis, settings, tmp_path, scripts)
    survivor = Queue(redis, Keys(settings.redis.key_prefix), "worker-b", scripts=scripts)
    claimed = await survivor.claim_stale("c1", min_idle_ms=0, count=10)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in entries]
    # The survivor now owns them: its own pending read returns them after a restart.
    own = await survivor.read_pending("c1", b"0", 10)
    assert len(own) == 3


@pytest.mark.parametrize("payload", [None, b"\xc1", msgpack.packb({"a": 1}),
                                     msgpack.packb([1, None])])
def test_unreadable_payloads_are_named(payload: bytes | None) -> None:
    from dispatch.store.entries import UnreadableEntry, unpack_entry

    with pytest.raises(UnreadableEntry):
        unpack_entry(payload)


async def test_a_receipt_is_found_in_an_earlier_hours_map(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    clock = Clock(1_800_000_000.0)
    _, entries = await queued(redis, settings, tmp_path, scripts)
    queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a", scripts=scripts,
                  clock=clock)
    await queue.admit("c1", items(entries)[:1])
    await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-old")])
    clock.now += 5 * 3600  # the receipt comes five hours later
    maps = queue.receipt_maps()
    assert (await queue.record_receipts([("gw-old", "d", "ok")], maps)).counts == [1, 0, 0, 0, 0]
    await queue.receipts.flush()
    assert await redis.hlen(maps.keys[5]) == 0


async def test_the_sweeper_expires_messages_whose_receipt_never_came(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    from dispatch.daemon.metrics import DaemonMetrics
    from dispatch.daemon.upkeep.sweeper import ReceiptSweeper

    clock = Clock(1_800_000_000.0)
    _, entries = await queued(redis, settings, tmp_path, scripts)
    queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a", scripts=scripts,
                  receipt_timeout_h=2, clock=clock)
    await queue.admit("c1", items(entries))
    await queue.record("c1", [Outcome(e.entry_id, n, "s", f"gw-{n}")
                              for e, n in zip(entries, NUMBERS, strict=True)])
    maps = queue.receipt_maps()
    await queue.record_receipts([(f"gw-{NUMBERS[0]}", "d", "ok")], maps)
    sweeper = ReceiptSweeper(queue, DaemonMetrics())
    assert await sweeper.sweep_once() == 0  # not overdue yet
    clock.now += 4 * 3600
    assert await sweeper.sweep_once() == 2
    current = await counts(redis, settings)
    assert (current["delivered"], current["expired"], current["submitted"]) == (1, 2, 0)
    errors = Keys(settings.redis.key_prefix).campaign("c1").errors
    assert await redis.hget(errors, NUMBERS[1]) == b"no final receipt within 2 h"
    assert await redis.exists([maps.keys[0]]) == 0
    assert await sweeper.sweep_once() == 0


class Clock:
    """A wall clock the test moves by hand (receipt maps are named by the hour)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_receipts_of_several_campaigns_are_recorded_in_one_call(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await enqueue_file(redis, settings, tmp_path / "c.csv", "c2", "Hello. " + SIGNED,
                       consent_required=False, rules=RULES)
    others = await queue.read_new(["c2"], 10, 100)
    for campaign, batch in (("c1", entries), ("c2", others)):
        await queue.admit(campaign, items(batch))
        await queue.record(campaign, [Outcome(e.entry_id, n, "s", f"{campaign}-{n}")
                                      for e, n in zip(batch, NUMBERS, strict=True)])
    receipts = [(f"c1-{NUMBERS[0]}", "d", "ok"), (f"c2-{NUMBERS[0]}", "x", "expired"),
                (f"c2-{NUMBERS[1]}", "d", "ok")]
    assert (await queue.record_receipts(receipts, queue.receipt_maps())).counts == [2, 0, 1, 0, 0]
    both = await state_counts(redis, keys, ["c1", "c2"])
    assert (both["c1"]["delivered"], both["c1"]["submitted"]) == (1, 2)
    assert (both["c2"]["delivered"], both["c2"]["expired"], both["c2"]["submitted"]) == (1, 1, 1)
    assert await redis.hget(keys.campaign("c2").errors, NUMBERS[0]) == b"expired"


async def assert_counts_match_states(redis: Redis, settings: Settings) -> None:
    """The counts hash is the state hash tallied (the scripts write it once per batch)."""
    keys = Keys(settings.redis.key_prefix).campaign("c1")
    states = Counter(STATES_BY_CODE[code.decode()]
                     for code in (await redis.hgetall(keys.state)).values())
    counts = {name.decode(): int(value)
              for name, value in (await redis.hgetall(keys.counts)).items()}
    assert {name: count for name, count in counts.items() if count} == dict(states)


async def test_the_counts_follow_every_move_of_a_batch(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    await queue.optouts.add([OptOutEvent(NUMBERS[2], "all", "cli")])
    assert await queue.admit("c1", items(entries)) == [True, True, True]
    await assert_counts_match_states(redis, settings)
    maps = queue.receipt_maps()
    await queue.record_receipts([("gw-0", "d", "ok")], maps)  # overtakes the record
    await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-0"),
                              Outcome(entries[1].entry_id, NUMBERS[1], "f", "refused"),
                              Outcome(entries[2].entry_id, NUMBERS[2], "p", "opted out")])
    await assert_counts_match_states(redis, settings)
    assert await counts(redis, settings) == counts_of(delivered=1, failed=1, suppressed=1)


async def test_a_batch_larger_than_one_ack_command_is_acked_and_deleted_whole(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    """The scripts take many fields, members or ids to a command, 1,000 values at most:
    2,500 messages take three (admitted, recorded, acked and deleted, their receipts'
    correlations written, found, applied and forgotten)."""
    numbers = [f"+336120{index:05d}" for index in range(2_500)]
    queue, entries = await queued(redis, settings, tmp_path, scripts, numbers)
    batch = [(e.entry_id, n) for e, n in zip(entries, numbers, strict=True)]
    assert await queue.admit("c1", batch) == [True] * 2_500
    await queue.record("c1", [Outcome(entry_id, number, "s", f"gw-{number}")
                              for entry_id, number in batch])
    assert await pending(redis, settings) == 0
    assert await redis.xlen(Keys(settings.redis.key_prefix).campaign("c1").stream) == 0
    assert (await counts(redis, settings))["submitted"] == 2_500
    await assert_counts_match_states(redis, settings)
    maps = queue.receipt_maps()
    receipts = [(f"gw-{number}", "d", "ok") for number in numbers]
    assert (await queue.record_receipts(receipts, maps)).counts == [2_500, 0, 0, 0, 0]
    await queue.receipts.flush()
    assert await redis.hlen(maps.keys[0]) == 0
    assert await counts(redis, settings) == counts_of(delivered=2_500)


async def test_a_number_met_twice_in_a_batch_moves_once(
        redis: Redis, settings: Settings, tmp_path: Path,
        scripts: ScriptHost | None) -> None:
    """The scripts read a batch's states at once and move them in Lua: the second time a
    number comes in a batch, it sees its first move, as with a command per message."""
    queue, entries = await queued(redis, settings, tmp_path, scripts)
    twice = [items(entries)[0]] * 2
    assert await queue.admit("c1", twice) == [True, True]
    await assert_counts_match_states(redis, settings)
    first = Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-0")
    assert await queue.record("c1", [first, first._replace(detail="gw-again")]) == [1, 0, 0]
    await assert_counts_match_states(redis, settings)
    receipts = [("gw-0", "d", "ok"), ("gw-0", "f", "late duplicate")]
    # {delivered, failed, expired, repeated, parked}
    assert (await queue.record_receipts(receipts, queue.receipt_maps())).counts == [
        1, 0, 0, 1, 0]
    await assert_counts_match_states(redis, settings)
    assert await counts(redis, settings) == counts_of(queued=2, delivered=1)


# The `scripts` fixture's variants only for the Redis they put `settings` on: a Redis, or
# the session's cluster (streams in several slots: a read each, then waiting on coredis).
@pytest.mark.parametrize("scripts", ["link", "cluster_link"], indirect=True)
async def test_reads_over_a_link_give_the_stream_as_it_is(
        redis: Redis, settings: Settings, tmp_path: Path, scripts: ScriptHost | None
        ) -> None:
    keys = Keys(settings.redis.key_prefix)
    for campaign in ("c1", "c2"):
        path = tmp_path / f"{campaign}.csv"
        path.write_text("phone\n" + "\n".join(NUMBERS) + "\n")
        await enqueue_file(redis, settings, path, campaign, "Hello. " + SIGNED,
                           consent_required=False, rules=RULES)
    streams = {c: keys.campaign(c).stream for c in ("c1", "c2")}
    with trio.fail_after(10):
        async with open_script_link(settings.redis.url, name="dispatch-reads") as reads:
            queue = Queue(redis, keys, "worker-a", reads=reads)
            entries = await queue.read_new(list(streams), 10, 100)
            # Nothing new: waited, nil.
            assert await queue.read_new(list(streams), 10, 20) == []
    expected = [Entry(campaign, entry.identifier, entry.field_values[b"m"])
                for campaign in ("c1", "c2")
                for entry in await redis.xrange(streams[campaign])]
    assert sorted(entries, key=lambda e: (e.campaign, e.entry_id)) == expected
    assert len(expected) == 6


@pytest.mark.parametrize("scripts", ["link", "cluster_link"], indirect=True)
async def test_a_read_the_stream_refuses_raises_with_redis_words(
        redis: Redis, settings: Settings, scripts: ScriptHost | None) -> None:
    await redis.xadd(Keys(settings.redis.key_prefix).campaign("c9").stream, {"m": b"x"})
    with trio.fail_after(10):
        async with open_script_link(settings.redis.url, name="dispatch-reads") as reads:
            queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a", reads=reads)
            with pytest.raises(ScriptError, match="NOGROUP"):
                await queue.read_new(["c9"], 10, 10)
