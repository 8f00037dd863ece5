"""Every command that changes state answers --json with one object (scripts read it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.cli import main
from tests.test_enqueue_cli import TEXT, campaign_file, config, enqueue

__all__ = ["campaign_file", "config"]  # fixtures


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(list(args)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 1, captured.out
    answer: dict[str, object] = json.loads(lines[0])
    return answer


def test_campaign_changes_answer_json(config: Path, campaign_file: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert enqueue(config, str(campaign_file), "--campaign", "c1", "--text", TEXT,
                   "--window", "always") == 0
    capsys.readouterr()
    where = ("--config", str(config), "--json")
    assert run_json(capsys, "campaign", "pause", "c1", *where) == {
        "campaign": "c1", "status": "paused"}
    assert run_json(capsys, "campaign", "resume", "c1", *where) == {
        "campaign": "c1", "status": "active"}
    assert run_json(capsys, "campaign", "share", "c1", "--weight", "2", "--priority", "5",
                    *where) == {"campaign": "c1", "weight": 2.0, "priority": 5}
    assert run_json(capsys, "campaign", "cancel", "c1", *where) == {
        "campaign": "c1", "status": "cancelled", "cancelled": 2}


def test_optout_changes_answer_json(config: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    where = ("--config", str(config), "--json")
    assert run_json(capsys, "optout", "add", "0611111111", "0622222222", *where) == {
        "action": "add", "numbers": 2, "scope": "all"}
    assert run_json(capsys, "optout", "remove", "0611111111", "--line", "36111",
                    *where) == {"action": "remove", "numbers": 1, "scope": "line:36111"}
    listing = tmp_path / "stops.csv"
    listing.write_text("phone\n0633333333\n")
    assert run_json(capsys, "optout", "import", str(listing), *where) == {
        "action": "import", "numbers": 1, "scope": "all"}
