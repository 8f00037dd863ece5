from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio

from dispatch.enqueue import EnqueueError, EnqueueReport, Exclusivity, TextRules, enqueue_file
from dispatch.keys import GROUP, Keys
from dispatch.settings import EnqueueSettings, Settings
from dispatch.store.redis import Redis
from tests.texts import RULES, SIGNED

TEXT = "Bonjour {first_name}, votez ! " + SIGNED


def write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


async def run(redis: Redis, settings: Settings, path: Path, text: str = TEXT,
              campaign: str = "c1", **kwargs: Any) -> EnqueueReport:
    """Enqueue; these tests are about rows and numbers, not consent (test_enqueue_consent),
    so their files have no consent columns and their campaigns do not require it."""
    kwargs.setdefault("consent_required", False)
    kwargs.setdefault("rules", RULES)
    with trio.fail_after(10):
        return await enqueue_file(redis, settings, path, campaign, text, **kwargs)


def with_enqueue(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, enqueue=EnqueueSettings(**changes))


async def snapshot(redis: Redis, settings: Settings, campaign: str = "c1") -> dict[str, Any]:
    """Everything enqueue writes for a campaign, stream payloads decoded."""
    keys = Keys(settings.redis.key_prefix)
    ckeys = keys.campaign(campaign)
    with trio.fail_after(10):
        entries = await redis.xrange(ckeys.stream)
        exists = await redis.exists([ckeys.stream])
        return {
            "campaigns": await redis.smembers(keys.campaigns),
            "state": await redis.hgetall(ckeys.state),
            "counts": await redis.hgetall(ckeys.counts),
            "meta": await redis.hgetall(ckeys.meta),
            "messages": [msgpack.unpackb(entry.field_values[b"m"]) for entry in entries],
            "groups": [g[b"name"] for g in await redis.xinfo_groups(ckeys.stream)]
            if exists else [],
        }


async def stream_messages(redis: Redis, settings: Settings) -> list[Any]:
    return (await snapshot(redis, settings))["messages"]


# One case per rejection reason: file content, expected (line, reason).
REJECTIONS = {
    "empty phone": ("phone,first_name\n,Ana\n", "csv", (2, "phone is empty")),
    "missing phone": ("first_name,phone\nAna\n", "csv", (2, "phone is missing")),
    "invalid number": ("phone,first_name\n0612,Ana\n", "csv", (2, "invalid phone number")),
    "unparseable": ("phone,first_name\nnope,Ana\n", "csv", (2, "invalid phone number")),
    "fixed line": ("phone,first_name\n0145678901,Ana\n", "csv",
                   (2, "not a mobile number (fixed line)")),
    "toll-free": ("phone,first_name\n0800123456,Ana\n", "csv",
                  (2, "not a mobile number (toll-free)")),
    "premium": ("phone,first_name\n0899123456,Ana\n", "csv",
                (2, "not a mobile number (premium rate)")),
    "voip": ("phone,first_name\n0939123456,Ana\n", "csv", (2, "not a mobile number (VoIP)")),
    "empty placeholder": ("phone,first_name\n0612345678, \n", "csv",
                          (2, "placeholder {first_name} has no value")),
    "missing placeholder": ("phone,x,first_name\n0612345678,1\n", "csv",
                            (2, "placeholder {first_name} has no value")),
    "undecodable bytes": (b"phone,first_name\n0612345678,Zo\xe9\n", "csv",
                          (2, "column 'first_name' is not valid UTF-8")),
    "too many fields": ("phone,first_name\n0612345678,Ana,extra\n", "csv",
                        (2, "row has 3 fields, the header has 2")),
    "invalid json": ('{"phone": "0612345678"\n', "jsonl",
                     (1, "invalid JSON: Expecting ',' delimiter at column 23")),
    "json not an object": ('["0612345678"]\n', "jsonl",
                           (1, "JSON line is not an object (got an array)")),
    "json without phone": ('{"first_name": "Ana"}\n', "jsonl", (1, "phone is missing")),
    "json null placeholder": ('{"phone": "0612345678", "first_name": null}\n', "jsonl",
                              (1, "placeholder {first_name} has no value")),
}


@pytest.mark.parametrize("case", REJECTIONS)
async def test_each_rejection_reason_with_its_line(redis: Redis, settings: Settings,
                                                   tmp_path: Path, case: str) -> None:
    content, fmt, expected = REJECTIONS[case]
    report = await run(redis, settings, write(tmp_path, content, f"bad.{fmt}"))
    assert (report.rows, report.accepted, report.rejected) == (1, 0, 1)
    assert report.errors == [expected]


async def test_rejection_reasons_never_contain_the_number(redis: Redis, settings: Settings,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0145678901,Ana\n06 12 34,Bob\n0612345678,\n")
    report = await run(redis, settings, path)
    assert report.rejected == 3
    assert not any(digits in reason for _, reason in report.errors
                   for digits in ("45678901", "1234", "12345678"))


async def test_every_row_is_counted_exactly_once(redis: Redis, settings: Settings,
                                                 tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n"
                           "0611111111,A\n06 11 11 11 11,B\n0145678901,C\n0622222222,D\n"
                           "+33622222222,E\nnope,F\n0633333333,\n0644444444,G\n")
    report = await run(redis, with_enqueue(settings, batch_size=2), path)
    assert (report.rows, report.accepted, report.duplicates, report.rejected) == (8, 3, 2, 3)
    assert report.accepted + report.duplicates + report.rejected == report.rows


async def test_same_number_however_written_is_a_duplicate(redis: Redis, settings: Settings,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n06 12 34 56 78,A\n+33 6 12 34 56 78,B\n"
                           "0033612345678,C\n(06).12.34.56.78,D\n")
    report = await run(redis, settings, path)
    assert (report.accepted, report.duplicates) == (1, 3)
    assert await stream_messages(redis, settings) == [["+33612345678", ["A"]]]


async def test_running_twice_queues_nothing_new(redis: Redis, settings: Settings,
                                                tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,A\n0622222222,B\nbad,C\n")
    first = await run(redis, settings, path)
    second = await run(redis, settings, path)
    assert (first.accepted, first.duplicates, first.rejected) == (2, 0, 1)
    assert (second.accepted, second.duplicates, second.rejected) == (0, 2, 1)
    state = await snapshot(redis, settings)
    assert len(state["messages"]) == 2
    assert state["counts"] == {b"queued": b"2"}
    meta = state["meta"]
    assert (meta[b"rows"], meta[b"accepted"], meta[b"duplicates"], meta[b"rejected"]) == (
        b"6", b"2", b"2", b"2")


async def test_duplicates_against_an_earlier_file(redis: Redis, settings: Settings,
                                                  tmp_path: Path) -> None:
    await run(redis, settings, write(tmp_path, "phone,first_name\n0611111111,A\n", "a.csv"))
    report = await run(redis, settings, write(
        tmp_path, "phone,first_name\n+33611111111,A\n0622222222,B\n", "b.csv"))
    assert (report.accepted, report.duplicates) == (1, 1)


async def test_same_number_in_another_campaign_is_not_a_duplicate(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0611111111,A\n")
    await run(redis, settings, path, campaign="c1")
    report = await run(redis, settings, path, campaign="c2")
    assert report.accepted == 1


async def test_redis_contents_after_enqueue(redis: Redis, settings: Settings,
                                            tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name,city\n0612345678,Ana,Lyon\n0692123456,Bob,Tampon\n")
    before = int(time.time())
    await run(redis, settings, path, text="Bonjour {first_name} de {city}. " + SIGNED,
              gateway="default")
    state = await snapshot(redis, settings)
    assert state["campaigns"] == {b"c1"}
    assert state["state"] == {b"+33612345678": b"q", b"+262692123456": b"q"}
    assert state["counts"] == {b"queued": b"2"}
    assert state["messages"] == [
        ["+33612345678", ["Ana", "Lyon"]], ["+262692123456", ["Bob", "Tampon"]]]
    meta = state["meta"]
    assert meta[b"text"] == ("Bonjour {first_name} de {city}. " + SIGNED).encode()
    assert meta[b"sender_identity"] == b"Parti Test"
    assert not [field for field in meta if field.startswith(b"override:")]
    assert json.loads(meta[b"placeholders"]) == ["first_name", "city"]
    assert meta[b"gateway"] == b"default"
    assert before <= int(meta[b"created_at"]) <= before + 60
    assert state["groups"] == [GROUP.encode()]


async def test_text_without_placeholders_stores_no_values(redis: Redis, settings: Settings,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n0612345678,\n")
    report = await run(redis, settings, path, text="Votez {{dimanche}} ! " + SIGNED)
    assert report.accepted == 1  # the empty first_name is not used by this text
    state = await snapshot(redis, settings)
    assert state["messages"] == [["+33612345678", None]]
    assert state["meta"][b"placeholders"] == b"[]"


async def test_placeholder_values_are_trimmed(redis: Redis, settings: Settings,
                                              tmp_path: Path) -> None:
    await run(redis, settings, write(tmp_path, "phone , first_name \n 0612345678 ,  Ana \n"))
    assert await stream_messages(redis, settings) == [["+33612345678", ["Ana"]]]


@pytest.mark.parametrize(("raw", "e164"), [
    ("0692 12 34 56", "+262692123456"), ("0693 01 23 45", "+262693012345"),
    ("0639 01 23 45", "+262639012345"), ("0690 12 34 56", "+590690123456"),
    ("0691 22 34 56", "+590691223456"), ("0694 12 34 56", "+594694123456"),
    ("0696 12 34 56", "+596696123456"), ("0697 12 34 56", "+596697123456"),
])
async def test_overseas_numbers_are_queued_with_their_country_code(
        redis: Redis, settings: Settings, tmp_path: Path, raw: str, e164: str) -> None:
    report = await run(redis, settings, write(tmp_path, f"phone,first_name\n{raw},A\n"))
    assert report.accepted == 1
    assert await stream_messages(redis, settings) == [[e164, ["A"]]]


async def test_jsonl_file(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, '{"phone": "0611111111", "first_name": "Ana", "x": 1}\n\n'
                           '{"phone": 33622222222, "first_name": 7}\n'
                           '{"phone": "0633333333"}\n', "list.jsonl")
    report = await run(redis, settings, path)
    assert (report.rows, report.accepted, report.rejected) == (3, 2, 1)
    assert report.errors == [(4, "placeholder {first_name} has no value")]
    assert await stream_messages(redis, settings) == [
        ["+33611111111", ["Ana"]], ["+33622222222", ["7"]]]


async def test_format_option_overrides_the_extension(redis: Redis, settings: Settings,
                                                     tmp_path: Path) -> None:
    path = write(tmp_path, '{"phone": "0611111111", "first_name": "Ana"}\n', "list.txt")
    report = await run(redis, settings, path, fmt="jsonl")
    assert report.accepted == 1


async def test_bom_before_the_header(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfPhone,first_name\n0611111111,Ana\n")
    report = await run(redis, settings, path)
    assert report.accepted == 1


async def test_listed_errors_are_capped_but_counted(redis: Redis, settings: Settings,
                                                    tmp_path: Path) -> None:
    path = write(tmp_path, "phone,first_name\n" + "bad,A\n" * 10 + "0611111111,B\n")
    report = await run(redis, with_enqueue(settings, max_errors_listed=3), path)
    assert report.rejected == 10
    assert report.errors == [(2, "invalid phone number"), (3, "invalid phone number"),
                             (4, "invalid phone number")]
    assert report.to_json()["rejected"] == 10


async def test_many_batches(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    rows = "".join(f"06{i:08d},n{i}\n" for i in range(1000))
    path = write(tmp_path, "phone,first_name\n" + rows + rows)
    progress: list[tuple[int, int]] = []
    report = await run(redis, with_enqueue(settings, batch_size=64), path,
                       progress=lambda rows, size: progress.append((rows, size)))
    assert (report.rows, report.accepted, report.duplicates) == (2000, 1000, 1000)
    assert progress[-1] == (2000, path.stat().st_size)
    assert progress == sorted(progress)
    assert len(progress) > 2000 // 64


async def test_report_json_shape(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    report = await run(redis, settings, write(tmp_path, "phone,first_name\n0612,A\n"))
    assert report.to_json() == {
        "campaign": "c1", "accepted": 0, "duplicates": 0, "rejected": 1, "suppressed": 0,
        "excluded": 0, "rows": 1, "errors": [{"line": 2, "reason": "invalid phone number"}],
        "errors_truncated": False, "file": {"encoding": "UTF-8", "delimiter": ","},
        "lint": {"encoding": "gsm7", "forcing_chars": [], "parts": 1,
                 "units": len(TEXT) - len("{first_name}"), "placeholders": ["first_name"],
                 "worst_case": {"lengths": {"first_name": 20}, "parts_min": 1,
                                "parts_max": 1, "units_max": len(TEXT) + 8,
                                "parts_max_if_ucs2": 1},
                 "queued": {"messages": 0, "parts": 0, "ucs2_messages": 0, "by_parts": [],
                            "values_outside_gsm7": []},
                 "cost": {"currency": "EUR", "price_per_part": "0.10", "per_message": "0.10",
                          "recipients": 0, "total": "0.00", "basis": "queued"},
                 "problems": [], "ok": True},
        "overrides": []}


async def test_cost_is_the_configured_price_per_part_for_the_messages_queued(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    gateway = dataclasses.replace(settings.gateways["default"], price_per_part=0.25)
    settings = dataclasses.replace(settings, gateways={"default": gateway})
    ucs2 = "Êtes-vous prête pour dimanche ? Votre bureau ouvre à 8 h. " * 2 + SIGNED  # 142
    path = write(tmp_path, "phone\n0611111111\n0622222222\n0612\n")
    lint = (await run(redis, settings, path, text=ucs2)).lint
    assert lint is not None
    assert (lint.encoding, lint.forcing_chars, lint.parts) == ("ucs2", ("Ê", "ê"), 3)
    assert (lint.recipients, lint.cost_per_message, lint.cost) == (
        2, Decimal("0.75"), Decimal("1.50"))


@pytest.mark.parametrize(("text", "rules", "missing"), [
    ("Votez Parti Test !", RULES, "no opt-out mention"),
    ("Votez ! STOP au 36111", RULES, "the text does not name the sender 'Parti Test'"),
    ("Votez ! STOP au 36111", TextRules(), "no sender identity given"),
])
async def test_a_text_failing_the_lint_is_refused_before_anything_is_queued(
        redis: Redis, settings: Settings, tmp_path: Path, text: str, rules: TextRules,
        missing: str) -> None:
    with pytest.raises(EnqueueError, match=r"^the text is refused: ") as caught:
        await run(redis, settings, write(tmp_path, "phone\n0611111111\n"), text=text,
                  rules=rules)
    assert missing in str(caught.value) and "--allow-missing-" in str(caught.value)
    state = await snapshot(redis, settings)
    assert (state["campaigns"], state["meta"], state["messages"]) == (set(), {}, [])


async def test_a_sender_without_letters_is_refused(redis: Redis, settings: Settings,
                                                   tmp_path: Path) -> None:
    with pytest.raises(EnqueueError, match=r"^--sender: sender '!!' has no letter or digit$"):
        await run(redis, settings, write(tmp_path, "phone\n0611111111\n"),
                  rules=TextRules(sender="!!"))


async def test_an_override_lets_the_text_through_and_is_recorded_in_the_meta(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    rules = TextRules(allow_missing_optout=True, allow_missing_sender=True)
    before = int(time.time())
    report = await run(redis, settings, write(tmp_path, "phone\n0611111111\n"),
                       text="Votez !", rules=rules)
    assert report.accepted == 1 and report.to_json()["overrides"] == [
        "missing_optout", "missing_sender"]
    meta = (await snapshot(redis, settings))["meta"]
    assert before <= int(meta[b"override:missing_optout"]) <= before + 60
    assert meta[b"override:missing_sender"] == meta[b"override:missing_optout"]
    assert meta[b"sender_identity"] == b""


async def test_the_client_is_the_sender_when_none_is_given(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    report = await run(redis, settings, write(tmp_path, "phone\n0611111111\n"),
                       text="Le parti-test vous informe. STOP au 36111", rules=TextRules(),
                       exclusivity=Exclusivity("parti-test", "muni26"))
    assert report.accepted == 1
    assert (await snapshot(redis, settings))["meta"][b"sender_identity"] == b"parti-test"


async def test_existing_campaign_with_another_text_or_gateway_is_refused(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    settings = dataclasses.replace(settings, gateways={**settings.gateways,
                                                       "fast": settings.gateways["default"]})
    path = write(tmp_path, "phone,first_name\n0611111111,A\n")
    await run(redis, settings, path)
    other = write(tmp_path, "phone,first_name\n0622222222,A\n", "other.csv")
    with pytest.raises(EnqueueError, match=r"^campaign 'c1' already exists with a different text$"):
        await run(redis, settings, other, text="Autre {first_name}. " + SIGNED)
    with pytest.raises(EnqueueError, match=r"^campaign 'c1' already exists with gateway "
                                           r"'default', not 'fast'$"):
        await run(redis, settings, other, gateway="fast")
    assert len(await stream_messages(redis, settings)) == 1


@pytest.mark.parametrize(("content", "text", "message"), [
    ("", TEXT, "list.csv: the file is empty"),
    ("tel,first_name\n", TEXT, "list.csv: no 'phone' column in the header"),
    ("phone\n0611111111\n", TEXT, "list.csv: the text uses {first_name} but the CSV header"),
    ("phone\n0611111111\n", "  ", "the text is empty"),
    ("phone\n0611111111\n", "Bonjour {x", "the text: unclosed '{' at position 9"),
])
async def test_fatal_errors_queue_nothing(redis: Redis, settings: Settings, tmp_path: Path,
                                          content: str, text: str, message: str) -> None:
    with pytest.raises(EnqueueError) as caught:
        await run(redis, settings, write(tmp_path, content), text=text)
    assert str(caught.value).replace(str(tmp_path) + "/", "").startswith(message)
    state = await snapshot(redis, settings)
    assert (state["campaigns"], state["meta"], state["messages"]) == (set(), {}, [])
