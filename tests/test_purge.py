"""Retention: `purge_campaign` and `purge_expired` on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio

from dispatch.daemon.inbound.answers import answer_texts
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.enqueue import EnqueueError, enqueue_file
from dispatch.keys import GROUP, Keys
from dispatch.settings import AnswerSettings, Settings
from dispatch.store.entries import Entry
from dispatch.store.optout import OptOutEvent, OptOutStore
from dispatch.store.provenance import provenance
from dispatch.store.purge import (
    DAY_S,
    CampaignBusy,
    PurgeError,
    purge_campaign,
    purge_expired,
    purge_lock,
)
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.vocabulary import InboundMessage, Outcome
from tests.texts import RULES, SIGNED

NUMBERS = [f"+3361200000{i}" for i in range(1, 7)]  # the campaign's
OTHER = "+33699999999"  # not in the campaign: its data must stay
STRANGER = "+33688888888"  # not in the campaign either, and not opted out
TEXT = "Bonjour {first_name}. " + SIGNED


def campaign_file(tmp_path: Path, numbers: list[str] = NUMBERS, name: str = "c.csv") -> Path:
    path = tmp_path / name
    rows = "".join(f"0{n[3:]},N{i},formulaire web,2024-01-02\n" for i, n in enumerate(numbers))
    path.write_text("phone,first_name,consent_source,consent_date\n" + rows)
    return path


async def enqueue(redis: Redis, settings: Settings, path: Path, campaign: str = "c1") -> Any:
    with trio.fail_after(10):
        return await enqueue_file(redis, settings, path, campaign, TEXT, rules=RULES)


async def send_all(queue: Queue, keys: Keys, campaign: str = "c1") -> dict[str, bytes]:
    """What a daemon does: admit, then record; numbers 2 and 3 fail. {number: entry id}."""
    entries = await queue.read_new([campaign], 100, 100)
    numbers = [msgpack.unpackb(e.payload)[0] for e in entries]
    await queue.admit(campaign, [(e.entry_id, n)
                                          for e, n in zip(entries, numbers, strict=True)])
    outcomes = [Outcome(e.entry_id, n, "f", "unknown subscriber") if n in NUMBERS[1:3]
                else Outcome(e.entry_id, n, "s", f"gw-{n}")
                for e, n in zip(entries, numbers, strict=True)]
    await queue.record(campaign, outcomes)
    return {n: e.entry_id for e, n in zip(entries, numbers, strict=True)}


async def every_key(redis: Redis, prefix: str) -> AsyncIterator[bytes]:
    """Every key of the test, scratch keys ("{prefix:...}") included."""
    for pattern in (f"{prefix}*", f"{{{prefix}*"):
        async for key in redis.scan_iter(match=pattern, count=1000):
            yield key


async def contents(redis: Redis, key: bytes) -> bytes:
    """Every field and value of the key, whatever its type, plus its DUMP: an entry that
    was only flagged deleted (XDEL) is still in the DUMP."""
    kind = (await redis.type(key)).decode()
    parts: list[bytes] = [key]
    if kind == "string":
        parts.append(await redis.get(key) or b"")
    elif kind == "hash":
        for field, value in (await redis.hgetall(key)).items():
            parts += (field, value)
    elif kind == "list":
        parts += await redis.lrange(key, 0, -1)
    elif kind == "set":
        parts += list(await redis.smembers(key))
    elif kind == "stream":
        for entry in await redis.xrange(key):
            parts += [v for pair in entry.field_values.items() for v in pair]
    parts.append(await redis.dump(key) or b"")
    return b"\n".join(parts)


def forms(number: str) -> list[bytes]:
    """E.164, national and bare digits (a gateway may drop the '+')."""
    return [number.encode(), ("0" + number[3:]).encode(), number[1:].encode()]


@pytest.fixture
async def uncompressed_dumps(redis: Redis) -> AsyncIterator[None]:
    """DUMP without LZF, so that a number left in a stream node shows in clear."""
    await redis.config_set({"rdbcompression": "no"})
    try:
        yield
    finally:
        await redis.config_set({"rdbcompression": "yes"})


async def test_after_purge_no_number_of_the_campaign_is_left_in_clear(
        redis: Redis, settings: Settings, tmp_path: Path, uncompressed_dumps: None) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "worker")
    with trio.fail_after(20):
        await OptOutStore(redis, keys).add([OptOutEvent(OTHER, "all", "cli")])
        await enqueue(redis, settings, campaign_file(tmp_path))
        ids = await send_all(queue, keys)
        maps = queue.receipt_maps()
        # Number 4 delivered (its correlation consumed); 1, 5 and 6 still wait: map entries.
        await queue.record_receipts([(f"gw-{NUMBERS[3]}", "d", "")], maps)
        await queue.receipts.flush()  # as the daemon does within a minute
        await queue.dead_letter(
            Entry("c1", ids[NUMBERS[4]], msgpack.packb([NUMBERS[4], ["x"]])), "unreadable")
        await queue.dead_letter(Entry("other", b"1-1", b""), "bad")
        replies = ReplyHandler(queue, lambda: ["c1"], texts=answer_texts(AnswerSettings()))
        await replies.handle([  # a STOP (opt-out, audit, inbound, confirmation), replies in
            InboundMessage(NUMBERS[0], "36111", "STOP", "default"),  # other forms, HELP
            InboundMessage("0" + NUMBERS[5][3:], "36111", "Qui êtes-vous ?", "default"),
            InboundMessage(NUMBERS[3][1:], "36111", "merci", "default"),
            InboundMessage(NUMBERS[2][1:], "36111", "AIDE", "default"),
            InboundMessage(OTHER, "36111", "bonjour", "default"),
            InboundMessage(STRANGER, "36111", "INFO", "default")])
        counts_before = await redis.hgetall(keys.campaign("c1").counts)

        report = await purge_campaign(redis, keys, "c1", now=1_800_000_000)

        found = b"\n".join([await contents(redis, key)
                            async for key in every_key(redis, settings.redis.key_prefix)])
    for number in NUMBERS:
        for form in forms(number):
            assert form not in found, f"{number} left in clear"
    assert OTHER.encode() in found  # what is not the campaign's stays
    assert (report.numbers, report.replies, report.answers, report.audit_redacted,
            report.optouts_cleared, report.receipts, report.dead_letters) == (6, 4, 2, 1, 1, 3, 1)
    assert await redis.hgetall(keys.campaign("c1").counts) == counts_before
    meta = await redis.hgetall(keys.campaign("c1").meta)
    assert meta[b"purged_at"] == b"1800000000" and b"text" not in meta
    assert meta[b"purged_text"] == TEXT.encode() and meta[b"accepted"] == b"6"
    assert [entry.field_values[b"text"] for entry in await redis.xrange(keys.inbound)] == [
        b"bonjour", b"INFO"]
    assert STRANGER.encode() in found  # its answer, not the campaign's, waits to be sent
    assert list((await redis.hgetall(keys.answer_numbers)).values()) == [STRANGER.encode()]


async def test_the_stop_of_a_purged_number_still_holds(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "worker")
    with trio.fail_after(20):
        await enqueue(redis, settings, campaign_file(tmp_path))
        await send_all(queue, keys)
        await ReplyHandler(queue, lambda: ["c1"]).handle(  # to the campaign's line
            [InboundMessage(NUMBERS[0], "DISPATCH", "STOP", "default")])
        await purge_campaign(redis, keys, "c1")
        again = await enqueue(redis, settings, campaign_file(tmp_path), "c2")
        found = await provenance(redis, keys, NUMBERS[0])
    assert (again.accepted, again.suppressed) == (5, 1)
    assert [c["campaign"] for c in found["campaigns"]] == ["c2"]  # c1 holds nothing now
    assert found["opt_out"]["hashed_scopes"] == ["line:DISPATCH"]
    hashed = await OptOutStore(redis, keys).hashed(NUMBERS[0])
    assert [entry["number"] for entry in found["audit"]] == [f"hash:{hashed}"]
    assert found["replies"] == []


async def test_a_purged_campaign_takes_no_more_messages(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        await send_all(Queue(redis, keys, "worker"), keys)
        await purge_campaign(redis, keys, "c1")
        with pytest.raises(EnqueueError, match="campaign 'c1' was purged: it takes no more"):
            await enqueue(redis, settings, campaign_file(tmp_path))
        with pytest.raises(PurgeError, match=r"^campaign 'c1' was already purged$"):
            await purge_campaign(redis, keys, "c1")
        with pytest.raises(PurgeError, match=r"^no campaign 'nope'$"):
            await purge_campaign(redis, keys, "nope")


async def test_queued_messages_need_force_and_a_running_daemon_sends_nothing_more(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "worker")
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        stream = keys.campaign("c1").stream
        held = await queue.read_new(["c1"], 2, 100)  # a daemon holds two
        items = [(e.entry_id, msgpack.unpackb(e.payload)[0]) for e in held]
        assert await queue.admit("c1", items) == [True, True]
        with pytest.raises(CampaignBusy, match=r"still has 4 queued and 2 in-flight messages"):
            await purge_campaign(redis, keys, "c1")

        report = await purge_campaign(redis, keys, "c1", force=True)
        # The daemon carries on with what it read and holds: nothing is sent or written.
        late = await queue.read_new(["c1"], 10, 10)
        await queue.record("c1", [Outcome(e, n, "s", "gw-late") for e, n in items])
        assert late == []
        assert await redis.xlen(stream) == 0
        pending = await redis.xpending(stream, GROUP)
        maps = [m async for m in redis.scan_iter(match=f"{keys.prefix}:dlr:*")]
        counts = await redis.hgetall(keys.campaign("c1").counts)
        meta = await redis.hgetall(keys.campaign("c1").meta)
    assert report.unsent == 6
    assert pending.pending == 0  # type: ignore[union-attr]
    assert maps == []
    assert counts == {}  # queued and in flight are gone from the counts ...
    assert meta[b"purged_unsent"] == b"6"  # ... and said here
    assert not await redis.exists([keys.campaign("c1").state, keys.purging("c1")])


async def test_the_shared_streams_keep_their_other_entries_and_ids(
        redis: Redis, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.store import shared_streams

    monkeypatch.setattr(shared_streams, "CHUNK", 2)  # several script calls
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        await send_all(Queue(redis, keys, "worker"), keys)
        kept = [await redis.xadd(keys.inbound, {"source": OTHER, "text": str(i)})
                for i in range(3)]
        await redis.xadd(keys.inbound, {"source": NUMBERS[0], "text": "x"})
        kept.append(await redis.xadd(keys.inbound, {"source": OTHER, "text": "3"}))
        last = await redis.xadd(keys.inbound, {"source": NUMBERS[1], "text": "y"})
        await purge_campaign(redis, keys, "c1")
        entries = await redis.xrange(keys.inbound)
        info = await redis.xinfo_stream(keys.inbound)
        after = await redis.xadd(keys.inbound, {"source": OTHER, "text": "later"})
    assert [e.identifier for e in entries] == kept
    assert info["last-generated-id"] == last  # new ids keep growing
    assert after > last


async def test_purge_expired_waits_for_the_retention_after_the_end(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    day0 = 1_800_000_000.0
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        await enqueue(redis, settings, campaign_file(tmp_path, [OTHER], "o.csv"), "busy")
        assert await purge_expired(redis, keys, day0, retention_days=60) == []
        await send_all(Queue(redis, keys, "worker"), keys)
        await redis.hset(keys.campaign("c1").counts, {"submitted": 0})  # receipts all in
        assert await purge_expired(redis, keys, day0, retention_days=60) == []
        assert await redis.hget(keys.campaign("c1").meta, "finished_at") == b"1800000000"
        assert await purge_expired(redis, keys, day0 + 59 * DAY_S, retention_days=60) == []
        reports = await purge_expired(redis, keys, day0 + 60 * DAY_S, retention_days=60)
        busy_meta = await redis.hgetall(keys.campaign("busy").meta)
    assert [r.campaign for r in reports] == ["c1"]
    assert b"finished_at" not in busy_meta and b"purged_at" not in busy_meta


async def test_queueing_again_restarts_the_retention(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path, NUMBERS[:1]))
        await send_all(Queue(redis, keys, "worker"), keys)
        await redis.hset(keys.campaign("c1").counts, {"submitted": 0})
        await purge_expired(redis, keys, 1000.0)
        assert await redis.hget(keys.campaign("c1").meta, "finished_at") == b"1000"
        await enqueue(redis, settings, campaign_file(tmp_path, NUMBERS[1:2], "more.csv"))
        assert await redis.hget(keys.campaign("c1").meta, "finished_at") is None


async def test_one_purge_at_a_time(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        async with purge_lock(redis, keys) as held:
            assert held
            with pytest.raises(PurgeError, match="another purge is running"):
                await purge_campaign(redis, keys, "c1", force=True)
            assert await purge_expired(redis, keys, 0.0, 0) == []
        assert (await purge_campaign(redis, keys, "c1", force=True)).numbers == 6


async def test_an_interrupted_purge_is_finished_by_the_next_one(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await enqueue(redis, settings, campaign_file(tmp_path))
        script = redis.register_script(
            (Path(__file__).parents[1] / "src/dispatch/store/lua/purge_mark.lua").read_text())
        ckeys = keys.campaign("c1")
        await script(keys=[ckeys.meta, ckeys.counts, ckeys.state, keys.purging("c1")],
                     args=["1", "1"])  # step 1 done, then the process died
        reports = await purge_expired(redis, keys, 2.0, 60)
    assert [(r.campaign, r.numbers) for r in reports] == [("c1", 6)]
    assert not await redis.exists([keys.purging("c1")])
