"""The daemon's Lua scripts and stream operations, on a real Redis."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from dispatch.enqueue import enqueue_file
from dispatch.keys import GROUP, Keys
from dispatch.settings import Settings
from dispatch.store.queue import Entry, Outcome, Queue, ReceiptUpdate
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts

NUMBERS = ["+33612000001", "+33612000002", "+33612000003"]


async def queued(redis: Redis, settings: Settings, tmp_path: Path) -> tuple[Queue, list[Entry]]:
    path = tmp_path / "c.csv"
    path.write_text("phone\n" + "\n".join(NUMBERS) + "\n")
    await enqueue_file(redis, settings, path, "c1", "Hello. STOP au 36111")
    queue = Queue(redis, Keys(settings.redis.key_prefix), "worker-a")
    stream = Keys(settings.redis.key_prefix).campaign("c1").stream
    entries = await queue.read_new({"c1": stream}, 10, 100)
    assert [msgpack.unpackb(e.payload)[0] for e in entries] == NUMBERS
    return queue, entries


async def counts(redis: Redis, settings: Settings) -> dict[str, int]:
    return (await state_counts(redis, Keys(settings.redis.key_prefix), ["c1"]))["c1"]


async def pending(redis: Redis, settings: Settings) -> int:
    stream = Keys(settings.redis.key_prefix).campaign("c1").stream
    summary = await redis.xpending(stream, GROUP)
    return int(summary.pending)


def items(entries: list[Entry]) -> list[tuple[bytes, str]]:
    return [(e.entry_id, n) for e, n in zip(entries, NUMBERS, strict=True)]


async def test_admit_marks_in_flight_and_is_idempotent(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    queue, entries = await queued(redis, settings, tmp_path)
    assert await queue.admit("c1", items(entries)) == [True, True, True]
    assert (await counts(redis, settings))["in_flight"] == 3
    # Admitted again (a restart re-reads its pending entries): still to be sent.
    assert await queue.admit("c1", items(entries)) == [True, True, True]
    assert (await counts(redis, settings))["queued"] == 0


async def test_record_sets_states_writes_reasons_and_acks(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    queue, entries = await queued(redis, settings, tmp_path)
    await queue.admit("c1", items(entries))
    result = await queue.record("c1", [
        Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-1"),
        Outcome(entries[1].entry_id, NUMBERS[1], "f", "HTTP 400: invalid destination")])
    assert result == [1, 1, 0]
    assert await counts(redis, settings) == {"queued": 0, "in_flight": 1, "submitted": 1,
                                             "delivered": 0, "failed": 1, "expired": 0}
    assert await pending(redis, settings) == 1
    errors = Keys(settings.redis.key_prefix).campaign("c1").errors
    assert await redis.hget(errors, NUMBERS[1]) == b"HTTP 400: invalid destination"
    # Recorded twice (a reply lost, the call retried): nothing changes.
    again = await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s", "gw-1")])
    assert again == [0, 0, 0]
    # A message already past sending is not admitted again, only acked.
    assert await queue.admit("c1", items(entries)[:2]) == [False, False]


async def test_receipt_after_record_is_applied_once(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    queue, entries = await queued(redis, settings, tmp_path)
    await queue.admit("c1", items(entries))
    await queue.record("c1", [Outcome(e.entry_id, n, "s", f"gw-{i}")
                              for i, (e, n) in enumerate(zip(entries, NUMBERS, strict=True))])
    found = await queue.lookup_receipts([("gw-0", "d", "ok"), ("gw-1", "f", "undeliverable")])
    assert found == [("c1", NUMBERS[0]), ("c1", NUMBERS[1])]
    updates = [ReceiptUpdate(NUMBERS[0], "d", "gw-0", "ok"),
               ReceiptUpdate(NUMBERS[1], "f", "gw-1", "undeliverable")]
    assert await queue.apply_receipts("c1", updates) == [1, 1, 0, 0]
    assert await queue.apply_receipts("c1", updates) == [0, 0, 0, 2]  # repeated receipts
    assert await counts(redis, settings) == {"queued": 0, "in_flight": 0, "submitted": 1,
                                             "delivered": 1, "failed": 1, "expired": 0}


async def test_receipt_before_record_is_parked_then_adopted(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    queue, entries = await queued(redis, settings, tmp_path)
    await queue.admit("c1", items(entries)[:1])
    # The gateway's receipt overtakes our record of its acceptance.
    assert await queue.lookup_receipts([("gw-fast", "x", "expired")]) == [None]
    result = await queue.record("c1", [Outcome(entries[0].entry_id, NUMBERS[0], "s",
                                               "gw-fast")])
    assert result == [1, 0, 1]
    current = await counts(redis, settings)
    assert current["expired"] == 1
    assert current["submitted"] == 0
    orphans = Keys(settings.redis.key_prefix).orphan_receipts
    assert await redis.hlen(orphans) == 0


async def test_a_live_consumer_claims_what_a_dead_one_left(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    _, entries = await queued(redis, settings, tmp_path)
    survivor = Queue(redis, Keys(settings.redis.key_prefix), "worker-b")
    claimed = await survivor.claim_stale("c1", min_idle_ms=0, count=10)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in entries]
    # The survivor now owns them: its own pending read returns them after a restart.
    own = await survivor.read_pending("c1", b"0", 10)
    assert len(own) == 3


@pytest.mark.parametrize("payload", [None, b"\xc1", msgpack.packb({"a": 1}),
                                     msgpack.packb([1, None])])
def test_unreadable_payloads_are_named(payload: bytes | None) -> None:
    from dispatch.daemon.messages import UnreadableEntry, decode_entry

    with pytest.raises(UnreadableEntry):
        decode_entry("c1", b"1-0", payload)
