"""`dispatch enqueue` through dispatch.cli.main, on the test session's Redis."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

from dispatch.cli import main
from dispatch.keys import Keys
from dispatch.settings import load_settings
from dispatch.store.redis import open_redis
from tests.texts import SENDER, SIGNED

TEXT = "Bonjour {first_name} ! " + SIGNED


@pytest.fixture
def config(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DISPATCH_CONFIG", "DISPATCH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{redis_url}"\nkey_prefix = "cli{uuid.uuid4().hex[:10]}"\n'
                    f'[gateways.default]\n[gateways.fast]\n')
    return path


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("phone,first_name,consent_source,consent_date\n"
                    "0611111111,Ana,web,2024-01-02\n0622222222,Bob,web,2024-01-02\n"
                    "0145678901,Cy,web,2024-01-02\n")
    return path


def enqueue(config: Path, *args: str, sender: str = SENDER) -> int:
    """`dispatch enqueue ARGS`, with --sender SENDER unless SENDER is empty."""
    return main(["enqueue", *args, *(["--sender", sender] if sender else []),
                 "--config", str(config)])


def redis_state(config: Path, campaign: str = "c1") -> dict[str, Any]:
    """The campaigns set and the campaign's stream length, read with a client of our own."""
    settings = load_settings(config, env={})
    keys = Keys(settings.redis.key_prefix)

    async def read() -> dict[str, Any]:
        with trio.fail_after(10):
            async with open_redis(settings) as redis:
                return {"campaigns": await redis.smembers(keys.campaigns),
                        "queued": await redis.xlen(keys.campaign(campaign).stream)}

    return trio.run(read)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dispatch enqueue: ")
    return lines[0].removeprefix("dispatch enqueue: ")


def test_json_output_is_one_object(config: Path, campaign_file: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT, "--json",
                   "--window", "always")
    assert code == 0
    output = capsys.readouterr().out
    report = json.loads(output)
    lint = report.pop("lint")
    sending = report.pop("sending")  # open now: "opens" is now
    assert (sending["opens_in"], sending["closed_because"]) == ("", "")
    assert report == {
        "campaign": "c1", "accepted": 2, "duplicates": 0, "rejected": 1, "suppressed": 0,
        "excluded": 0, "rows": 3, "overrides": [],
        "errors": [{"line": 4, "reason": "not a mobile number (fixed line)"}],
        "errors_truncated": False, "file": {"encoding": "UTF-8", "delimiter": ","}}
    assert (lint["encoding"], lint["parts"], lint["placeholders"], lint["ok"]) == (
        "gsm7", 1, ["first_name"], True)
    # per_message: the lint's worst case; total: the exact parts of the messages queued
    assert lint["cost"] == {"currency": "EUR", "price_per_part": "0.10", "per_message": "0.10",
                            "recipients": 2, "total": "0.20", "basis": "queued"}
    assert lint["queued"] == {"messages": 2, "parts": 2, "ucs2_messages": 0,
                              "by_parts": [{"parts": 1, "messages": 2}],
                              "values_outside_gsm7": []}
    assert output.count("\n") == 1
    assert redis_state(config) == {"campaigns": {b"c1"}, "queued": 2}


def test_second_run_reports_only_duplicates(config: Path, campaign_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(campaign_file), "--campaign", "c1", "--text", TEXT, "--json"]
    assert enqueue(config, *args) == 0
    capsys.readouterr()
    assert enqueue(config, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (0, 2, 1)


def test_human_summary(config: Path, campaign_file: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--window", "always") == 0  # no "sending starts" line: open now
    assert capsys.readouterr().out.splitlines() == [
        "campaign c1: 2 accepted, 0 duplicates, 0 opted out, 1 rejected (3 rows)",
        "  line 4: not a mobile number (fixed line)",
        "text encoding: GSM-7",
        "text parts: 2 for 2 messages (2 of 1 part)",  # each rendered message counted
        "text cost: 2 x 0.10 EUR = 0.20 EUR",
    ]


def test_human_summary_shows_the_first_rejections_only(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("phone,first_name,consent_source,consent_date\n"
                    "0611111111,Ana,web,2024-01-02\n" + "nope,A,w,2024-01-02\n" * 30)
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  line 3: invalid phone number"
    assert lines[21] == "  ... and 10 more rejected rows (--rejects FILE writes them all)"
    assert lines[22].startswith("text encoding: ")


def test_text_file_and_jsonl_format(config: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    text_file = tmp_path / "message.txt"
    text_file.write_text(TEXT + "\n")
    data = tmp_path / "list.data"
    data.write_text('{"phone": "0611111111", "first_name": "Ana", "Consent_Source": "web", '
                    '"consent_date": "2024-01-02"}\n')
    assert enqueue(config, str(data), "--campaign", "c1", "--text-file", str(text_file),
                   "--format", "jsonl", "--gateway", "fast", "--json") == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 1


FATAL = {
    "missing file": (["missing.csv", "--text", TEXT], "missing.csv: no such file"),
    "empty file": (["empty.csv", "--text", TEXT], "empty.csv: the file is empty"),
    "no phone column": (["nophone.csv", "--text", TEXT],
                        "nophone.csv: no 'phone' column in the header (columns: 'tel', "
                        "'first_name')"),
    "unknown placeholder": (["list.csv", "--text", "Hi {city}. " + SIGNED],
                            "list.csv: the text uses {city} but the CSV header has no such "
                            "column"),
    "empty text": (["list.csv", "--text", " "], "the text is empty"),
    "both texts": (["list.csv", "--text", TEXT, "--text-file", "message.txt"],
                   "give the message with exactly one of --text or --text-file"),
    "no text": (["list.csv"], "give the message with exactly one of --text or --text-file"),
    "missing text file": (["list.csv", "--text-file", "nothing.txt"],
                          "--text-file nothing.txt: no such file"),
    "bad campaign id": (["list.csv", "--text", TEXT, "--campaign", "a b"],
                        "invalid campaign id 'a b': use 1 to 64 letters, digits, '_', '.' or '-'"),
    "long campaign id": (["list.csv", "--text", TEXT, "--campaign", "x" * 65],
                         f"invalid campaign id '{'x' * 65}': use 1 to 64 letters, digits, '_', "
                         f"'.' or '-'"),
    "unknown gateway": (["list.csv", "--text", TEXT, "--gateway", "nope"],
                        "unknown gateway 'nope' (configured: default, fast)"),
    "malformed text": (["list.csv", "--text", "Hi {first_name"],
                       "the text: unclosed '{' at position 4 (write '{{' for a literal brace)"),
}


@pytest.mark.parametrize("case", FATAL)
def test_fatal_errors_exit_2_with_one_line_and_queue_nothing(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    folder = campaign_file.parent
    (folder / "empty.csv").write_bytes(b"")
    (folder / "nophone.csv").write_text("tel,first_name\n0611111111,Ana\n")
    monkeypatch.chdir(folder)
    args, message = FATAL[case]
    if "--campaign" not in args:
        args = [*args, "--campaign", "c1"]
    assert enqueue(config, *args) == 2
    assert one_line_error(capsys) == message
    assert redis_state(config) == {"campaigns": set(), "queued": 0}


@pytest.mark.parametrize(("change", "message"), [
    (["--text", "Autre {first_name}. " + SIGNED],
     "campaign 'c1' already exists with a different text"),
    (["--text", TEXT, "--gateway", "fast"],
     "campaign 'c1' already exists with gateway 'default', not 'fast'"),
])
def test_existing_campaign_with_other_settings_exits_2(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str],
        change: list[str], message: str) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT) == 0
    capsys.readouterr()
    other = campaign_file.parent / "other.csv"
    other.write_text("phone,first_name,consent_source,consent_date\n0633333333,Di,web,2024-01-02\n")
    assert enqueue(config, str(other), "--campaign", "c1", *change) == 2
    assert one_line_error(capsys) == message
    assert redis_state(config)["queued"] == 2


def test_consent_is_required_unless_said_otherwise(config: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("phone\n0611111111\n")
    assert enqueue(config, str(path), "--campaign", "c1", "--text", SIGNED) == 2
    assert one_line_error(capsys) == (
        f"{path}: no consent_source and no consent_date column: the campaign requires consent "
        f"(add the columns, or use --no-consent-required if consent is recorded elsewhere)")
    assert enqueue(config, str(path), "--campaign", "c1", "--text", SIGNED,
                   "--no-consent-required", "--json") == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 1


def test_client_and_election_go_together(config: Path, campaign_file: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--client", "A") == 2
    assert one_line_error(capsys) == "give both --client and --election, or neither"


def test_summary_counts_the_excluded(config: Path, campaign_file: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    common = [str(campaign_file), "--text", TEXT, "--election", "muni26"]
    assert enqueue(config, *common, "--campaign", "a1", "--client", "A") == 0
    capsys.readouterr()
    assert enqueue(config, *common, "--campaign", "b1", "--client", "B") == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "campaign b1: 0 accepted, 0 duplicates, 0 opted out, 2 excluded (reserved by another "
        "client), 1 rejected (3 rows)")


@pytest.mark.parametrize(("text", "sender", "message"), [
    ("Bonjour {first_name}, Parti Test vous invite.", "Parti Test",
     "the text is refused: no opt-out mention: add e.g. 'STOP au 36xxx' with your short "
     "code, or 'Répondez STOP' (fix the text, or override: --allow-missing-optout)"),
    (TEXT, "", "the text is refused: no sender identity given: nothing shows that the text "
               "names who sends it (fix the text, or override: --sender NAME or "
               "--allow-missing-sender)"),
    (TEXT, "Marie Dupont", "the text is refused: the text does not name the sender "
                           "'Marie Dupont' (fix the text, or override: --sender NAME or "
                           "--allow-missing-sender)"),
])
def test_a_text_failing_the_lint_exits_2_and_queues_nothing(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str], text: str,
        sender: str, message: str) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", text,
                   sender=sender) == 2
    assert one_line_error(capsys) == message
    assert redis_state(config) == {"campaigns": set(), "queued": 0}


@pytest.mark.parametrize("options", [
    ["--allow-missing-optout", "--allow-missing-sender"],
    ["--allow-missing-optout-mention", "--allow-missing-sender-identity"],
])
def test_overrides_are_printed_and_recorded(config: Path, campaign_file: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            options: list[str]) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text",
                   "Bonjour {first_name}", *options, sender="") == 0
    overrides = [line for line in capsys.readouterr().out.splitlines()
                 if line.startswith("OVERRIDE")]
    assert [line.split(": ")[1] for line in overrides] == ["missing_optout", "missing_sender"]
    assert all(line.endswith("(allowed by override)") for line in overrides)
    assert redis_state(config)["queued"] == 2
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text",
                   "Bonjour {first_name}", *options, "--json", sender="") == 0
    assert json.loads(capsys.readouterr().out)["overrides"] == ["missing_optout",
                                                                "missing_sender"]


def test_pool_option_picks_the_pool_and_its_gateway(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with config.open("a") as fh:
        fh.write('[pools.p]\ngateway = "fast"\nrate = 1\nlines = [{ numbers = ["36111"] }]\n')
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--pool", "p", "--json") == 0
    settings = load_settings(config, env={})

    async def read() -> list[Any]:
        async with open_redis(settings) as redis:
            meta = Keys(settings.redis.key_prefix).campaign("c1").meta
            return list(await redis.hmget(meta, ["gateway", "pool"]))

    assert trio.run(read) == [b"fast", b"p"]
    assert enqueue(config, str(campaign_file), "--campaign", "c2", "--text", TEXT,
                   "--pool", "nope") == 2
    assert "unknown pool 'nope' (pools: p)" in capsys.readouterr().err


def closed_hour_window() -> tuple[str, dt.datetime]:
    """A window of one hour, two hours from now in Paris (closed now), and when it opens."""
    now = dt.datetime.now(ZoneInfo("Europe/Paris"))
    opens = (now + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    end = "23:59" if opens.hour == 23 else f"{opens.hour + 1:02d}:00"
    return f"mon-sun {opens.hour:02d}:00-{end}", opens


def test_enqueue_says_when_a_closed_window_opens(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    window, opens = closed_hour_window()
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[opens.weekday()]
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--window", window) == 0
    assert (f"sending starts {day} {opens:%H}:00 (mainland France; closed now: outside its "
            f"hours)") in capsys.readouterr().out.splitlines()
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--window", window, "--json") == 0
    assert json.loads(capsys.readouterr().out)["sending"] == {
        "opens": opens.isoformat(timespec="minutes"), "opens_in": f"{day} {opens:%H}:00",
        "closed_because": "outside its hours"}


def test_enqueue_says_nothing_of_an_open_window(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--window", "always", "--json") == 0
    sending = json.loads(capsys.readouterr().out)["sending"]
    assert (sending["opens_in"], sending["closed_because"]) == ("", "")
