"""Enqueue with consent provenance and exclusivity, on a real Redis."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio

from dispatch import consent
from dispatch.enqueue import EnqueueError, EnqueueReport, Exclusivity, enqueue_file
from dispatch.keys import Keys
from dispatch.settings import EnqueueSettings, Settings
from dispatch.store.optout import OptOutEvent, OptOutStore
from dispatch.store.provenance import provenance
from dispatch.store.redis import Redis
from tests.texts import RULES, SIGNED

TEXT = "Bonjour {first_name}. " + SIGNED
HEADER = "phone,first_name,consent_source,consent_date,consent_slot\n"


def write(tmp_path: Path, content: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


async def run(redis: Redis, settings: Settings, path: Path, campaign: str = "c1",
              text: str = TEXT, **kwargs: Any) -> EnqueueReport:
    kwargs.setdefault("rules", RULES)
    with trio.fail_after(10):
        return await enqueue_file(redis, settings, path, campaign, text, **kwargs)


async def consent_of(redis: Redis, settings: Settings, number: str, campaign: str = "c1"
                     ) -> Any:
    with trio.fail_after(10):
        found = await provenance(redis, Keys(settings.redis.key_prefix), number)
    return next((c["consent"] for c in found["campaigns"] if c["campaign"] == campaign), None)


REJECTIONS = {
    "no source": ("0611111111,Ana,,2024-01-02,", "no consent source"),
    "no date": ("0611111111,Ana,web,,", "no consent date"),
    "bad date": ("0611111111,Ana,web,02/01/2024,",
                 "consent_date '02/01/2024' is not an ISO date (YYYY-MM-DD) or date-time"),
    "future date": ("0611111111,Ana,web,2999-01-01,", "consent_date '2999-01-01' is in the future"),
    "long source": (f"0611111111,Ana,{'w' * 201},2024-01-02,",
                    "consent_source is longer than 200 characters"),
    "long slot": (f"0611111111,Ana,web,2024-01-02,{'s' * 201}",
                  "consent_slot is longer than 200 characters"),
}


@pytest.mark.parametrize("case", REJECTIONS)
async def test_each_consent_rejection_reason(redis: Redis, settings: Settings, tmp_path: Path,
                                             case: str) -> None:
    row, reason = REJECTIONS[case]
    report = await run(redis, settings, write(tmp_path, HEADER + row + "\n"))
    assert (report.rows, report.accepted, report.rejected) == (1, 0, 1)
    assert report.errors == [(2, reason)]


async def test_consent_is_stored_and_shown_by_provenance(redis: Redis, settings: Settings,
                                                         tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0611111111,Ana,formulaire web,2024-01-02,mon-fri 10-13\n"
                                    "0622222222,Bob,bulletin papier,2024-02-03T09:30:00,\n"
                                    "0633333333,Cy,formulaire web,2023-12-31,\n")
    report = await run(redis, settings, path)
    assert report.accepted == 3
    assert await consent_of(redis, settings, "+33611111111") == {
        "source": "formulaire web", "date": "2024-01-02", "slot": "mon-fri 10-13"}
    assert await consent_of(redis, settings, "+33622222222") == {
        "source": "bulletin papier", "date": "2024-02-03T09:30:00", "slot": None}
    texts = await redis.hgetall(Keys(settings.redis.key_prefix).consent_texts("c1"))
    assert sorted(v for k, v in texts.items() if k.startswith(b"i:")) == [
        b"bulletin papier", b"formulaire web", b"mon-fri 10-13"]  # each text stored once


async def test_records_are_a_few_bytes_in_small_buckets(redis: Redis, settings: Settings,
                                                        tmp_path: Path) -> None:
    rows = "".join(f"06{i:08d},A,web,2024-01-02,\n" for i in range(300))
    path = write(tmp_path, HEADER + rows)
    await run(redis, settings, path)
    keys = Keys(settings.redis.key_prefix)
    buckets = int(await redis.hget(keys.campaign("c1").meta, "consent_buckets") or 0)
    assert buckets == consent.bucket_count(path.stat().st_size) > 1
    number = "+33600000007"
    raw = await redis.hget(keys.consent_bucket("c1", consent.bucket_of(number, buckets)), number)
    assert raw is not None and len(raw) <= 6
    assert msgpack.unpackb(raw) == [1, 19724, None]
    sizes = [await redis.hlen(keys.consent_bucket("c1", b)) for b in range(buckets)]
    assert sum(sizes) == 300 and max(sizes) <= 128


async def test_headers_and_jsonl_keys_in_any_case(redis: Redis, settings: Settings,
                                                  tmp_path: Path) -> None:
    csv_path = write(tmp_path, "Phone,CONSENT_SOURCE,Consent_Date\n0611111111,web,2024-01-02\n")
    assert (await run(redis, settings, csv_path, text=SIGNED)).accepted == 1
    jsonl = write(tmp_path, '{"phone": "0622222222", "Consent_Source": "app", '
                            '"CONSENT_DATE": "2024-01-03"}\n', "list.jsonl")
    assert (await run(redis, settings, jsonl, text=SIGNED)).accepted == 1
    assert await consent_of(redis, settings, "+33622222222") == {
        "source": "app", "date": "2024-01-03", "slot": None}


async def test_a_csv_without_consent_columns_is_refused_whole(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name,consent_source\n0611111111,Ana,web\n")
    with pytest.raises(EnqueueError, match="no consent_date column: the campaign requires "
                                           "consent"):
        await run(redis, settings, path)
    assert not await redis.smembers(Keys(settings.redis.key_prefix).campaigns)


async def test_a_jsonl_row_without_consent_is_rejected(redis: Redis, settings: Settings,
                                                       tmp_path: Path) -> None:
    path = write(tmp_path, '{"phone": "0611111111", "first_name": "Ana"}\n', "l.jsonl")
    report = await run(redis, settings, path)
    assert report.errors == [(1, "no consent source")]


async def test_no_consent_required_accepts_rows_and_marks_the_campaign(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,Ana\n")
    report = await run(redis, settings, path, consent_required=False)
    assert report.accepted == 1
    meta = await redis.hgetall(Keys(settings.redis.key_prefix).campaign("c1").meta)
    assert meta[b"consent_required"] == b"0"
    assert await consent_of(redis, settings, "+33611111111") is None
    with pytest.raises(EnqueueError, match=r"^campaign 'c1' already exists not requiring "
                                           r"consent \(give the same consent option again\)$"):
        await run(redis, settings, write(tmp_path, HEADER, "other.csv"))


async def test_a_consent_column_may_be_a_placeholder(redis: Redis, settings: Settings,
                                                     tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0611111111,Ana,example.fr,2024-01-02,\n")
    await run(redis, settings, path, text="Numéro obtenu via {consent_source}. " + SIGNED)
    entries = await redis.xrange(Keys(settings.redis.key_prefix).campaign("c1").stream)
    assert msgpack.unpackb(entries[0].field_values[b"m"]) == ["+33611111111", ["example.fr"]]


# Exclusivity ---------------------------------------------------------------------------

def one_batch(settings: Settings) -> Settings:
    return dataclasses.replace(settings, enqueue=EnqueueSettings(batch_size=2))


async def test_a_number_reserved_by_another_client_is_excluded(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    settings = one_batch(settings)
    first = write(tmp_path, HEADER + "0611111111,A,w,2024-01-02,\n0622222222,B,w,2024-01-02,\n")
    second = write(tmp_path, HEADER + "0622222222,B,w,2024-01-02,\n0633333333,C,w,2024-01-02,\n"
                                      "bad,D,w,2024-01-02,\n", "second.csv")
    report = await run(redis, settings, first, "a1", exclusivity=Exclusivity("A", "muni26"))
    assert report.accepted == 2
    other = await run(redis, settings, second, "b1", exclusivity=Exclusivity("B", "muni26"))
    assert (other.accepted, other.excluded, other.rejected, other.rows) == (1, 1, 1, 3)
    assert other.accepted + other.duplicates + other.suppressed + other.excluded \
        + other.rejected == other.rows
    assert other.to_json()["excluded"] == 1
    keys = Keys(settings.redis.key_prefix)
    assert await redis.hget(keys.campaign("b1").state, "+33622222222") is None  # not held
    assert (await redis.hget(keys.campaign("b1").meta, "excluded")) == b"1"
    found = await provenance(redis, keys, "+33622222222")
    assert found["reservations"] == {"muni26": "A"}


async def test_the_same_client_may_reach_its_numbers_again(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0611111111,A,w,2024-01-02,\n")
    await run(redis, settings, path, "a1", exclusivity=Exclusivity("A", "muni26"))
    again = await run(redis, settings, path, "a2", exclusivity=Exclusivity("A", "muni26"))
    assert (again.accepted, again.excluded) == (1, 0)


async def test_another_election_or_no_exclusivity_is_not_excluded(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0611111111,A,w,2024-01-02,\n")
    await run(redis, settings, path, "a1", exclusivity=Exclusivity("A", "muni26"))
    other_election = await run(redis, settings, path, "b1",
                               exclusivity=Exclusivity("B", "legis27"))
    no_client = await run(redis, settings, path, "c1")
    assert (other_election.accepted, other_election.excluded) == (1, 0)
    assert (no_client.accepted, no_client.excluded) == (1, 0)


async def test_exclusivity_must_stay_the_same_for_a_campaign(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "0611111111,A,w,2024-01-02,\n")
    await run(redis, settings, path, "a1", exclusivity=Exclusivity("A", "muni26"))
    with pytest.raises(EnqueueError, match=r"^campaign 'a1' already exists for client 'A' in "
                                           r"election 'muni26'"):
        await run(redis, settings, path, "a1")
    with pytest.raises(EnqueueError, match=r"^invalid client 'a b'"):
        await run(redis, settings, path, "a2", exclusivity=Exclusivity("a b", "muni26"))


async def test_a_number_suppressed_at_load_keeps_its_consent_and_every_count(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(10):
        await OptOutStore(redis, keys).add([OptOutEvent("+33622222222", "all", "cli")])
    path = write(tmp_path, HEADER + "0611111111,Ana,web,2024-01-02,\n"
                                    "0622222222,Bob,bulletin papier,2024-02-03,\n")
    first = await run(redis, settings, path)
    again = await run(redis, settings, path)
    assert (first.accepted, first.suppressed, first.duplicates) == (1, 1, 0)
    assert (again.accepted, again.suppressed, again.duplicates) == (0, 1, 1)
    with trio.fail_after(10):
        counts = await redis.hgetall(keys.campaign("c1").counts)
        stream = await redis.xlen(keys.campaign("c1").stream)
    assert (counts[b"queued"], counts[b"suppressed"], stream) == (b"1", b"1", 1)
    assert await consent_of(redis, settings, "+33622222222") == {
        "source": "bulletin papier", "date": "2024-02-03", "slot": None}
