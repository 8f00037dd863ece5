"""The opt-out list: by hand (CLI), from a STOP reply, at enqueue and at send time."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import trio

from dispatch.cli import main
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.enqueue import enqueue_file
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.optout import CHANGE_CHUNK, OptOutEvent, OptOutStore, keyed_hash
from dispatch.store.purge import purge_campaign
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from dispatch.vocabulary import InboundMessage, Keypress
from tests.texts import RULES, SIGNED

NUMBERS = ["0612000001", "0612000002", "0612000003"]


def config(tmp_path: Path, settings: Settings) -> str:
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{settings.redis.url}"\n'
                    f'key_prefix = "{settings.redis.key_prefix}"\n'
                    '[gateways.default]\nsender = "36111"\n')
    return str(path)


def campaign_file(tmp_path: Path) -> Path:
    path = tmp_path / "c.csv"
    path.write_text("phone\n" + "\n".join(NUMBERS) + "\n")
    return path


def test_cli_add_check_remove_export(settings: Settings, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, settings)
    assert main(["optout", "add", "06 12 00 00 01", "--config", cfg]) == 0
    assert "1 numbers opted out (scope all)" in capsys.readouterr().out
    assert main(["optout", "check", "+33612000001", "--json", "--config", cfg]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["number"] == "+33612000001"
    assert report["opted_out"] is True
    assert list(report["scopes"]) == ["all"]
    assert main(["optout", "export", "--config", cfg]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("+33612000001,all,")
    assert main(["optout", "remove", "0612000001", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["optout", "check", "0612000001", "--json", "--config", cfg]) == 0
    assert json.loads(capsys.readouterr().out)["opted_out"] is False
    assert main(["optout", "add", "not-a-number", "--config", cfg]) == 2


async def test_enqueue_leaves_out_opted_out_numbers_and_says_so(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    store = OptOutStore(redis, keys)
    from dispatch.store.optout import OptOutEvent

    await store.add([OptOutEvent("+33612000002", "all", "cli")])
    report = await enqueue_file(redis, settings, campaign_file(tmp_path), "c1", SIGNED,
                                consent_required=False, rules=RULES)
    assert (report.accepted, report.suppressed, report.duplicates) == (2, 1, 0)
    again = await enqueue_file(redis, settings, campaign_file(tmp_path), "c1", SIGNED,
                               consent_required=False, rules=RULES)
    assert (again.accepted, again.suppressed, again.duplicates) == (0, 1, 2)
    counts = (await state_counts(redis, keys, ["c1"]))["c1"]
    assert (counts["queued"], counts["suppressed"]) == (2, 1)


async def test_a_stop_reply_suppresses_messages_already_queued_for_that_line(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    await enqueue_file(redis, settings, campaign_file(tmp_path), "c1", SIGNED,
                       consent_required=False, rules=RULES)
    queue = Queue(redis, keys, "worker")
    replies = ReplyHandler(queue, lambda: ["c1"])
    intents = await replies.handle([
        InboundMessage("+33612000003", "DISPATCH", "Stop merci", "default"),
        InboundMessage("+33612000001", "DISPATCH", "Qui êtes-vous ?", "default")])
    assert [str(i) for i in intents] == ["opt_out", "reply"]
    entries = await queue.read_new(["c1"], 10, 100)
    numbers = ["+33612000001", "+33612000002", "+33612000003"]
    flags = await queue.admit("c1", [(e.entry_id, n)
                                     for e, n in zip(entries, numbers, strict=True)])
    assert flags == [True, True, True]
    # The STOP holds at send time: the senders' last check.
    stopped = await queue.optouts.opted_out_by_line(numbers, ["DISPATCH"] * 3)
    assert stopped == [False, False, True]
    assert await queue.optouts.opted_out_by_line(numbers, ["OTHER"] * 3) == [False] * 3
    # Another line's messages are not affected by a STOP sent to this one.
    assert (await queue.optouts.check("+33612000003"))["scopes"].keys() == {"line:DISPATCH"}
    audit = await redis.xrange(keys.optout_audit)
    fields = audit[-1].field_values
    assert fields[b"source"] == b"mo"
    assert fields[b"text"] == b"Stop merci"
    assert fields[b"line"] == b"DISPATCH"
    inbound = await redis.xrange(keys.inbound)
    assert [e.field_values[b"intent"] for e in inbound] == [b"opt_out", b"reply"]


async def test_a_purged_number_is_still_found_opted_out_by_its_keyed_hash(
        redis: Redis, settings: Settings) -> None:
    from dispatch.store.optout import OptOutEvent

    keys = Keys(settings.redis.key_prefix)
    store = OptOutStore(redis, keys)
    await store.add([OptOutEvent("+33612000009", "line:36111", "mo")])
    await redis.hdel(keys.optout_numbers, ["+33612000009"])  # what a purge leaves
    report = await store.check("+33612000009")
    assert report["opted_out"] is True
    assert report["scopes"] == {"line:36111": None}
    assert (await store.check("+33612000008"))["opted_out"] is False


async def test_a_large_change_goes_in_chunks_and_is_all_applied(redis: Redis,
                                                                settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    store = OptOutStore(redis, keys)
    numbers = [f"+336{20_000_000 + i:08d}" for i in range(2 * CHANGE_CHUNK + 5)]
    with trio.fail_after(30):
        await store.add([OptOutEvent(number, "all", "import") for number in numbers])
        assert await store.opted_out_many(numbers, ["all"]) == [True] * len(numbers)
        assert await redis.xlen(keys.optout_audit) == len(numbers)
        await store.remove([OptOutEvent(number, "all", "cli") for number in numbers[:3]])
        assert await store.opted_out_many(numbers[:4], ["all"]) == [False] * 3 + [True]
        assert await redis.hlen(keys.optout_numbers) == len(numbers) - 3


async def test_a_9_pressed_during_a_call_opts_the_number_out_of_every_line(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    replies = ReplyHandler(Queue(redis, keys, "worker"), lambda: [])
    stops = await replies.keypresses([
        Keypress("CA1", "+33612000003", "+33900000001", "9", "calls"),
        Keypress("CA2", "+33612000004", "+33900000001", "1", "calls")])
    assert [press.gateway_id for press in stops] == ["CA1"]
    found = await Queue(redis, keys, "worker").optouts.check("+33612000003")
    assert found["scopes"].keys() == {"all"}
    assert not (await Queue(redis, keys, "worker").optouts.check("+33612000004"))["opted_out"]
    [entry] = await redis.xrange(keys.optout_audit)
    assert (entry.field_values[b"source"], entry.field_values[b"text"]) == (b"dtmf", b"9")
    assert entry.field_values[b"line"] == b"+33900000001"  # the line that called


async def test_export_lists_the_opt_outs_a_purge_kept_as_hashes(
        redis: Redis, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys = Keys(settings.redis.key_prefix)
    store = OptOutStore(redis, keys)
    cfg = config(tmp_path, settings)
    with trio.fail_after(30):
        await enqueue_file(redis, settings, campaign_file(tmp_path), "c1", SIGNED,
                           consent_required=False, rules=RULES)
        await store.add([OptOutEvent("+33612000001", "all", "cli"),
                         OptOutEvent("+33612000003", "line:36111", "mo"),
                         OptOutEvent("+33699000000", "all", "cli")])  # in no campaign
        await purge_campaign(redis, keys, "c1", force=True)
        assert await trio.to_thread.run_sync(main, ["optout", "export", "--config", cfg]) == 0
        erased = [await store.hashed("+33612000001"), await store.hashed("+33612000003")]
    out = capsys.readouterr().out
    rows = [(r["number"], r["scope"], bool(r["since"]), r["kept_as"])
            for r in csv.DictReader(io.StringIO(out))]
    assert out.splitlines()[0] == "number,scope,since,kept_as"
    assert rows == [("+33699000000", "all", True, "number"),
                    *sorted([(f"hash:{erased[0]}", "all", False, "hash"),
                             (f"hash:{erased[1]}", "line:36111", False, "hash")])]
    assert "+3361200000" not in out


async def test_export_reads_large_scope_sets_in_chunks_once_each(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    store = OptOutStore(redis, keys)
    numbers = [f"+336{30_000_000 + i:08d}" for i in range(2500)]
    with trio.fail_after(30):
        await store.add([OptOutEvent(number, "all", "import") for number in numbers])
        await redis.hdel(keys.optout_numbers, numbers[:2000])  # what a purge leaves
        rows = await store.export()
        secret = await store.secret()
    assert [row.number for row in rows if row.kept_as == "number"] == numbers[2000:]
    hashed = {row.number for row in rows if row.kept_as == "hash"}
    assert len(hashed) == len(rows) - 500 == 2000
    assert hashed == {f"hash:{keyed_hash(secret, number)}" for number in numbers[:2000]}
    assert all(row.since is None and row.number.startswith("hash:") for row in rows[500:])
