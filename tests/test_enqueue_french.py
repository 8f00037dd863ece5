"""A French spreadsheet export (Windows-1252, ';'-separated) loads through the CLI as it
is, or as the operator names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from dispatch.keys import Keys
from dispatch.settings import load_settings
from dispatch.store.entries import unpack_entry
from dispatch.store.redis import open_redis
from tests.test_enqueue_cli import TEXT, config, enqueue

__all__ = ["config"]  # a fixture

ROWS = ("phone;first_name;consent_source;consent_date\r\n"
        "0611111111;Hélène;web;2024-01-02\r\n0622222222;François;web;2024-01-02\r\n"
        "0633333333;Zoë;web;2024-01-02\r\n")


def names_queued(config: Path) -> list[str]:
    settings = load_settings(config, env={})
    stream = Keys(settings.redis.key_prefix).campaign("c1").stream

    async def read() -> list[str]:
        with trio.fail_after(10):
            async with open_redis(settings) as redis:
                entries = await redis.xrange(stream)
        return [values[0] for entry in entries
                for _, values, _ in [unpack_entry(entry.field_values[b"m"])] if values]

    return trio.run(read)


def test_a_windows_1252_semicolon_export_is_detected(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(ROWS.encode("cp1252"))
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT) == 0
    out = capsys.readouterr().out
    assert out.startswith("campaign c1: 3 accepted, 0 duplicates, 0 opted out, 0 rejected")
    assert "file read as Windows-1252, semicolon-separated" in out.splitlines()
    assert names_queued(config) == ["Hélène", "François", "Zoë"]


def test_the_operator_names_the_encoding_and_delimiter(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One accent only: too little to detect Windows-1252 safely, so the operator says it.
    path = tmp_path / "export.tsv"
    path.write_bytes("phone\tfirst_name\tconsent_source\tconsent_date\r\n"
                     "0611111111\tZoé\tweb\t2024-01-02\r\n".encode("cp1252"))
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT, "--json",
                   "--encoding", "latin-1", "--delimiter", "tab") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["accepted"], report["file"]) == (1, {"encoding": "latin-1",
                                                        "delimiter": "\t"})
    assert names_queued(config) == ["Zoé"]


def test_a_utf8_file_with_a_bom_is_read_as_utf8(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(ROWS.encode("utf-8-sig"))
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT, "--json") == 0
    assert json.loads(capsys.readouterr().out)["file"] == {"encoding": "UTF-8",
                                                           "delimiter": ";"}
    assert names_queued(config) == ["Hélène", "François", "Zoë"]


def test_an_unknown_encoding_is_one_line(config: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(ROWS.encode("cp1252"))
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT,
                   "--encoding", "klingon") != 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "unknown encoding 'klingon'" in err[0]


def test_a_broken_quote_costs_only_its_own_line(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["phone,first_name,consent_source,consent_date", '0611111111,"Ana,web,2024-01-02']
    rows += [f"06{22_000_000 + i:08d},Bob,web,2024-01-02" for i in range(50)]
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(rows) + "\n")
    assert enqueue(config, str(path), "--campaign", "c1", "--text", TEXT, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["accepted"], report["rejected"]) == (51, 50, 1)
    assert report["errors"][0]["line"] == 2
    assert report["errors"][0]["reason"].startswith("malformed CSV row")
