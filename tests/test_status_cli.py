"""`dispatch status` through dispatch.cli.main, on the test session's Redis: the messages
waiting for their window and when it opens, --json, --watch (bounded, and ended by Ctrl-C)."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import uuid
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trio

from dispatch.cli import main
from dispatch.commands.status import read_snapshot, refresh, watch
from dispatch.commands.status_view import CLOSED, Pace, Snapshot
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.redis import Redis
from tests.texts import SENDER, SIGNED

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@pytest.fixture
def config(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DISPATCH_CONFIG", "DISPATCH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{redis_url}"\nkey_prefix = "st{uuid.uuid4().hex[:10]}"\n'
                    f'[gateways.default]\n')
    return path


def closed_day() -> int:
    """A weekday three days from today in Paris: its window is closed today (and still
    closed should the test run across midnight)."""
    return (dt.datetime.now(ZoneInfo("Europe/Paris")).weekday() + 3) % 7


def enqueue(config: Path, tmp_path: Path, campaign: str, rows: int, window: str) -> None:
    numbers = "\n".join(f"06{12_000_000 + i:08d}" for i in range(rows))
    (tmp_path / f"{campaign}.csv").write_text(f"phone\n{numbers}\n")
    assert main(["enqueue", str(tmp_path / f"{campaign}.csv"), "--campaign", campaign,
                 "--no-consent-required", "--text", SIGNED, "--sender", SENDER,
                 "--window", window, "--config", str(config)]) == 0


def test_status_says_how_many_wait_for_their_window_and_when_it_opens(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = closed_day()
    enqueue(config, tmp_path, "c1", 1200, f"{WEEKDAYS[day]} 10:00-11:00")
    enqueue(config, tmp_path, "c2", 3, "always")
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich may wrap the line
    assert re.search(rf"c1: waiting for its window: 1,200 \(opens {DAY_NAMES[day]} 10:00; "
                     r"closed: no sending on \w+days\)", out), out
    assert "c2: waiting" not in out  # "always" is open
    assert main(["status", "--json", "--campaign", "c1", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["campaigns"]["c1"]["queued"] == 1200 and report["totals"]["queued"] == 1200
    progress = report["progress"]["c1"]
    assert (progress["status"], progress["waiting_for_window"], progress["window"]) == \
        ("active", 1200, CLOSED)
    opens = dt.datetime.fromisoformat(progress["window_opens"])
    assert (opens.weekday(), opens.hour, opens.minute) == (day, 10, 0)
    assert progress["window_closed_because"].startswith("no sending on ")


def test_watch_refreshes_count_times_with_paces_from_the_second_on(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue(config, tmp_path, "c1", 2, "always")
    capsys.readouterr()
    assert main(["status", "--watch", "0.01", "--count", "3", "--json",
                 "--config", str(config)]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(reports) == 3
    assert "settled_per_s" not in reports[0]["progress"]["c1"]
    for report in reports[1:]:
        assert report["progress"]["c1"]["settled_per_s"] == 0.0  # no daemon runs
        assert (report["progress"]["c1"]["left"], report["progress"]["c1"]["eta_s"]) == \
            (2, None)
    assert main(["status", "--watch", "0.01", "--count", "2", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("every 0.01 s") == 2 and "progress over the last 0.01 s" in out


def test_watch_options_are_checked(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--watch", "0", "--config", str(config)]) == 2
    assert capsys.readouterr().err == \
        "dispatch status: --watch: give a number of seconds above 0, got 0\n"
    assert main(["status", "--watch", "1", "--campaign", "nope", "--config", str(config)]) == 2
    assert capsys.readouterr().err == "dispatch status: no campaign 'nope'\n"


Shown = list[tuple[Snapshot, Mapping[str, Pace] | None]]


async def test_refresh_reads_every_interval_and_paces_against_the_previous_read(
        redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    await redis.sadd(keys.campaigns, ["c1"])
    await redis.hset(keys.campaign("c1").counts, {"queued": 10})
    shown: Shown = []
    with trio.fail_after(10):
        await refresh(redis, keys, None, 0.01, lambda s, p: shown.append((s, p)), count=3)
    assert [p is None for _, p in shown] == [True, False, False]
    assert all(s.counts["c1"]["queued"] == 10 for s, _ in shown)
    assert shown[1][0].clock > shown[0][0].clock


async def test_ctrl_c_ends_the_watch_cleanly(settings: Settings) -> None:
    shown: Shown = []

    def show(snapshot: Snapshot, campaign_paces: Mapping[str, Pace] | None) -> None:
        shown.append((snapshot, campaign_paces))
        if len(shown) == 2:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    with trio.fail_after(10):
        await watch(settings, None, 0.01, show)  # no count: only Ctrl-C ends it
    assert len(shown) == 2


async def test_a_snapshot_reads_at_the_given_wall_time(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    await redis.sadd(keys.campaigns, ["c1"])
    await redis.hset(keys.campaign("c1").counts, {"queued": 4})
    sunday = dt.datetime(2025, 7, 6, 12, tzinfo=ZoneInfo("Europe/Paris"))
    with trio.fail_after(10):
        snapshot = await read_snapshot(redis, keys, "c1", sunday.timestamp())
    progress = snapshot.progress["c1"]
    assert (progress.window, progress.waiting, progress.why) == \
        (CLOSED, 4, "no sending on Sundays")
    assert progress.opens == dt.datetime(2025, 7, 7, 9, tzinfo=ZoneInfo("Europe/Paris"))
