"""A campaign's window, deadline and sender: a top-up cannot change them (enqueue refuses
it, before writing anything), `dispatch campaign set` changes them on purpose (audited,
and every daemon loads the campaign again)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import trio

from dispatch.cli import main
from dispatch.daemon.campaigns import CampaignBook
from dispatch.keys import Keys
from dispatch.settings import load_settings
from dispatch.store.campaign_admin import CampaignAdmin
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.redis import open_redis
from tests.test_enqueue_cli import TEXT, campaign_file, config, enqueue, one_line_error
from tests.texts import SENDER

__all__ = ["campaign_file", "config"]  # fixtures

FIRST = ("--window", "mon-sat 09:00-20:00", "--deadline", "2099-06-30T18:00")


def text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def meta_of(config: Path, campaign: str = "c1") -> dict[str, str]:
    """The campaign's meta as stored, and the audit entries, read with our own client."""
    settings = load_settings(config, env={})
    keys = Keys(settings.redis.key_prefix)

    async def read() -> dict[str, Any]:
        with trio.fail_after(10):
            async with open_redis(settings) as redis:
                raw = await redis.hgetall(keys.campaign(campaign).meta)
                changes = await redis.xrange(keys.campaign(campaign).changes)
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        meta["audit"] = json.dumps([{text(k): text(v) for k, v in entry.field_values.items()}
                                    for entry in changes])
        return meta

    return trio.run(read)


def load(config: Path, campaign_file: Path, *extra: str, sender: str = SENDER) -> int:
    return enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT, *extra,
                   sender=sender)


@pytest.mark.parametrize(("changed", "named"), [
    (("--window", "mon-sat 08:00-21:00", "--deadline", "2099-06-30T18:00"),
     "--window 'mon-sat 09:00-20:00', not 'mon-sat 08:00-21:00'"),
    (("--window", "mon-sat 09:00-20:00", "--deadline", "2099-07-01T18:00"),
     "--deadline '2099-06-30T18:00', not '2099-07-01T18:00'"),
])
def test_a_top_up_cannot_re_date_the_campaign(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str],
        changed: tuple[str, ...], named: str) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    before = meta_of(config)
    capsys.readouterr()
    assert load(config, campaign_file, *changed) != 0
    error = one_line_error(capsys)
    assert named in error and "dispatch campaign set" in error
    assert meta_of(config) == before


def test_a_top_up_cannot_add_a_deadline_the_campaign_did_not_have(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The hole this closes: HSETNX would have written the missing field, re-dating what
    # was queued under no deadline.
    assert load(config, campaign_file, "--window", "mon-sat 09:00-20:00") == 0
    before = meta_of(config)
    capsys.readouterr()
    assert load(config, campaign_file, *FIRST) != 0
    assert "--deadline '(none)', not '2099-06-30T18:00'" in one_line_error(capsys)
    assert "deadline" not in meta_of(config)
    assert meta_of(config) == before


def test_a_top_up_cannot_change_the_sender(config: Path, campaign_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    capsys.readouterr()
    assert load(config, campaign_file, *FIRST, sender="Parti") != 0
    assert f"--sender {SENDER!r}, not 'Parti'" in one_line_error(capsys)


def test_the_same_settings_again_top_up(config: Path, campaign_file: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    assert load(config, campaign_file, *FIRST) == 0  # the same rows: duplicates
    assert meta_of(config)["duplicates"] == "2"


def test_a_deadline_already_past_is_refused(config: Path, campaign_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert load(config, campaign_file, "--deadline", "2020-01-01T18:00") != 0
    assert "already past" in one_line_error(capsys)


def test_a_cancelled_campaign_takes_no_top_up(config: Path, campaign_file: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    assert main(["campaign", "cancel", "c1", "--config", str(config)]) == 0
    capsys.readouterr()
    assert load(config, campaign_file, *FIRST) != 0
    assert "is cancelled: it takes no more messages" in one_line_error(capsys)


def test_campaign_set_changes_on_purpose_with_an_audit(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    capsys.readouterr()
    code = main(["campaign", "set", "c1", "--deadline", "2099-07-01T18:00", "--window", "",
                 "--json", "--config", str(config)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"campaign": "c1", "changes": {
        "window": {"old": "mon-sat 09:00-20:00", "new": ""},
        "deadline": {"old": "2099-06-30T18:00", "new": "2099-07-01T18:00"}}}
    meta = meta_of(config)
    assert meta["deadline"] == "2099-07-01T18:00"
    assert "window" not in meta  # removed: the channel's default
    assert meta["revision"] == "2"  # one per field
    audit = json.loads(meta["audit"])
    assert [(a["campaign"], a["field"], a["old"], a["new"]) for a in audit] == [
        ("c1", "window", "mon-sat 09:00-20:00", ""),
        ("c1", "deadline", "2099-06-30T18:00", "2099-07-01T18:00")]
    assert all("@" in a["by"] and float(a["at"]) > 0 for a in audit)
    # The top-up now gives the new settings.
    assert load(config, campaign_file, "--deadline", "2099-07-01T18:00") == 0


@pytest.mark.parametrize(("args", "wanted"), [
    (["--deadline", "2020-01-01T00:00"], "already past"),
    (["--window", "25:00-26:00"], "window"),
    (["--sender", "Ensemble"], "does not name 'Ensemble'"),
    ([], "give --window, --deadline or --sender"),
])
def test_campaign_set_refuses_what_enqueue_would(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str],
        args: list[str], wanted: str) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    before = meta_of(config)
    capsys.readouterr()
    assert main(["campaign", "set", "c1", *args, "--config", str(config)]) != 0
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    assert wanted in captured.err
    assert meta_of(config) == before


def test_campaign_set_refuses_unknown_and_cancelled_campaigns(
        config: Path, campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "set", "nope", "--deadline", "2099-01-01T00:00",
                 "--config", str(config)]) != 0
    assert "no campaign 'nope'" in capsys.readouterr().err
    assert load(config, campaign_file, *FIRST) == 0
    assert main(["campaign", "cancel", "c1", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["campaign", "set", "c1", "--deadline", "2099-01-01T00:00",
                 "--config", str(config)]) != 0
    assert "is cancelled" in capsys.readouterr().err


def test_a_daemon_loads_a_changed_campaign_again(config: Path, campaign_file: Path) -> None:
    assert load(config, campaign_file, *FIRST) == 0
    settings = load_settings(config, env={})
    keys = Keys(settings.redis.key_prefix)

    async def deadlines_seen() -> tuple[object, object]:
        with trio.fail_after(10):
            async with open_redis(settings) as redis:
                book = CampaignBook(MetaStore(redis, keys), {"default": "ME", "fast": "ME"})
                await book.refresh()
                before = book.campaigns["c1"].policy.deadline.wall
                await CampaignAdmin(redis, keys).set(
                    "c1", {"deadline": "2099-07-01T18:00"}, "test@host")
                await book.refresh()
                return before, book.campaigns["c1"].policy.deadline.wall

    before, after = trio.run(deadlines_seen)
    assert (before, after) == (dt.datetime(2099, 6, 30, 18), dt.datetime(2099, 7, 1, 18))
