"""Every rejected row is retrievable (--rejects FILE), a truncated list says so, a file
with no usable row exits non-zero, and Ctrl-C says what was loaded."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from dispatch.keys import Keys
from dispatch.settings import load_settings
from dispatch.store.redis import open_redis
from tests.test_enqueue_cli import TEXT, config, enqueue, redis_state
from tests.texts import SENDER

__all__ = ["config"]  # a fixture

HEADER = "phone,first_name,consent_source,consent_date\n"
GOOD = "06{:08d},Ana,web,2024-01-02\n"
BAD = "nope{},A,web,2024-01-02\n"


def mixed_file(tmp_path: Path, good: int, bad: int) -> Path:
    """`good` valid rows, then `bad` rows whose phone is invalid (lines good+2...)."""
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + "".join(GOOD.format(11_000_000 + i) for i in range(good))
                    + "".join(BAD.format(i) for i in range(bad)))
    return path


def test_rejects_file_holds_every_rejected_row(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, rejects = mixed_file(tmp_path, 5, 1_500), tmp_path / "rejects.csv"
    code = enqueue(config, str(path), "--campaign", "c1", "--text", TEXT, "--json",
                   "--rejects", str(rejects))
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["accepted"], report["rejected"]) == (5, 1_500)
    assert len(report["errors"]) == 1_000 and report["errors_truncated"] is True
    with rejects.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["line"]) for row in rows] == list(range(7, 7 + 1_500))
    assert {row["reason"] for row in rows} == {"invalid phone number"}


def test_the_summary_says_where_every_rejection_is(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, rejects = mixed_file(tmp_path, 1, 25), tmp_path / "rejects.csv"
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT,
                   "--rejects", str(rejects)) == 0
    out = capsys.readouterr().out
    assert f"  ... and 5 more rejected rows (all 25 are in {rejects})" in out
    assert len(rejects.read_text().splitlines()) == 1 + 25


def test_an_unwritable_rejects_file_is_refused_before_loading(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_file(tmp_path, 3, 1)
    code = enqueue(config, str(path), "--campaign", "c1", "--text", TEXT,
                   "--rejects", str(tmp_path / "no" / "such" / "dir.csv"))
    assert code != 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--rejects" in err[0] and "cannot write" in err[0]
    assert redis_state(config)["queued"] == 0


def test_a_file_with_every_row_rejected_exits_non_zero(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_file(tmp_path, 0, 40)
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT) == 1
    captured = capsys.readouterr()
    assert "40 rejected (40 rows)" in captured.out  # the report is still given
    assert captured.err == f"dispatch enqueue: {path} had every row rejected: nothing queued\n"


def test_a_file_with_no_rows_exits_non_zero(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(HEADER)
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT, "--json") == 1
    assert json.loads(capsys.readouterr().out)["rows"] == 0


def queued(config: Path) -> int:
    settings = load_settings(config, env={})

    async def read() -> int:
        with trio.fail_after(10):
            async with open_redis(settings) as redis:
                counts = await redis.hget(
                    Keys(settings.redis.key_prefix).campaign("c1").counts, "queued")
                return int(counts or 0)

    return trio.run(read)


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def settled_queue(config: Path) -> int:
    """The queue's depth once it stopped growing (enqueue waits for rows), bounded."""
    last, still = -1, 0
    for _ in range(600):  # 60 s at most
        depth = queued(config)
        still = still + 1 if depth == last and depth > 0 else 0
        if still == 5:
            return depth
        last = depth
        trio.run(trio.sleep, 0.1)
    raise AssertionError(f"the queue never settled (last {last})")


def test_ctrl_c_says_what_was_loaded_and_a_re_run_resumes(config: Path,
                                                         tmp_path: Path) -> None:
    # The file is a pipe the test feeds: 3,000 rows, then nothing until Ctrl-C, so the
    # interruption lands mid-run, while enqueue waits for more rows.
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "dispatch", "enqueue", str(fifo), "--campaign", "c1",
               "--text", TEXT, "--sender", SENDER, "--config", str(config)]
    # As from a terminal: SIGINT handled. A runner started in the background (`cmd &` in
    # a script) ignores SIGINT, its children inherit that, and Python then leaves Ctrl-C
    # ignored: the run would wait for more rows for ever.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=default_sigint)
    rows = HEADER + "".join(GOOD.format(11_000_000 + i) for i in range(3_000))
    try:
        with fifo.open("w") as feed:
            feed.write(rows)
            feed.flush()
            loaded = settled_queue(config)
            assert loaded >= 1_000  # a batch at least: the reader reads in chunks
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert out.startswith(f"campaign c1: {loaded:,} accepted, 0 duplicates")
    assert err.strip().endswith("run the same command again to resume (rows already "
                                "queued count as duplicates)")
    assert "Traceback" not in err
    # The re-run: the same rows again, every one a duplicate, plus the rest.
    (tmp_path / "all.csv").write_text(rows + GOOD.format(11_003_000))
    assert enqueue(config, str(tmp_path / "all.csv"), "--campaign", "c1", "--text",
                   TEXT) == 0
    assert queued(config) == 3_001
