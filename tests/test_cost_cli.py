"""`dispatch lint` and `dispatch enqueue` on a text with placeholders: the worst case before
the file, the exact parts of the messages queued after; one sender rule, one message."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from dispatch.cli import main

# 157 characters besides {prenom}: one part for "Léa", two for any longer first name, three
# in UCS-2 (ç in François).
TEXT_157 = ("Bonjour {prenom}, Parti Test vous attend dimanche à 9h place de la Mairie pour le "
            "grand meeting de fin de campagne. Venez nombreux avec tous vos amis ! STOP au "
            "36111")
HEADER = "phone,prenom,consent_source,consent_date\n"


@pytest.fixture
def config(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DISPATCH_CONFIG", "DISPATCH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{redis_url}"\nkey_prefix = "cost{uuid.uuid4().hex[:10]}"\n'
                    f'[gateways.default]\nprice_per_part = 0.05\n')
    return path


@pytest.fixture
def names_file(tmp_path: Path) -> Path:
    """Three messages of 1, 2 and 3 parts queued; a duplicate and an opted-out number, of
    other sizes, not queued (their parts are not counted)."""
    path = tmp_path / "list.csv"
    path.write_text(HEADER + "0611111111,Léa,web,2024-01-02\n"
                             "0622222222,Camille,web,2024-01-02\n"
                             "0633333333,François,web,2024-01-02\n"
                             "+33 6 11 11 11 11,Marie-Emmanuelle,web,2024-01-02\n"
                             "0644444444,Jérôme,web,2024-01-02\n")
    return path


def test_enqueue_counts_the_parts_of_each_message_queued(
        config: Path, names_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optout", "add", "0644444444", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["enqueue", str(names_file), "--campaign", "c1", "--text", TEXT_157,
                 "--sender", "Parti Test", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "campaign c1: 3 accepted, 1 duplicates, 1 opted out, 0 rejected (5 rows)"
    assert [line for line in lines if line.startswith("text ")] == [
        "text encoding: GSM-7; 1 message in UCS-2 because of a value (outside GSM-7 in the "
        "file: ç ô)",
        "text parts: 6 for 3 messages (1 of 1 part, 1 of 2 parts, 1 of 3 parts)",
        "text cost: 6 x 0.05 EUR = 0.30 EUR",
    ]


def test_enqueue_json_gives_the_exact_parts_and_cost(
        config: Path, names_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enqueue", str(names_file), "--campaign", "c1", "--text", TEXT_157,
                 "--sender", "Parti Test", "--json", "--config", str(config)]) == 0
    lint = json.loads(capsys.readouterr().out)["lint"]
    assert lint["queued"] == {
        "messages": 4, "parts": 9, "ucs2_messages": 2, "values_outside_gsm7": ["ç", "ô"],
        "by_parts": [{"parts": 1, "messages": 1}, {"parts": 2, "messages": 1},
                     {"parts": 3, "messages": 2}]}
    assert (lint["cost"]["total"], lint["cost"]["basis"]) == ("0.45", "queued")


def test_lint_gives_the_worst_case_enqueue_then_the_exact_figure(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The price is the configured gateway's, as enqueue counts it (0.05 here).
    assert main(["lint", "--text", TEXT_157, "--sender", "Parti Test", "--count", "3",
                 "--json", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["parts"], report["cost"]["total"], report["cost"]["basis"]) == (
        3, "0.45", "worst_case")
    assert main(["lint", "--text", TEXT_157, "--sender", "Parti Test", "--gateway", "sms",
                 "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "dispatch lint: --gateway sms: no such gateway in the configuration\n")
    assert report["worst_case"]["parts_min"] == 1 and report["worst_case"]["parts_max"] == 2


SENDER_CASES = {
    "no sender": ([], "the text is refused: no sender identity given: nothing shows that the "
                      "text names who sends it (fix the text, or override: --sender NAME or "
                      "--allow-missing-sender)"),
    "a sender the text does not name": (
        ["--sender", "Marie Dupont"],
        "the text is refused: the text does not name the sender 'Marie Dupont' (fix the text, "
        "or override: --sender NAME or --allow-missing-sender)"),
    "a sender without letters": (["--sender", "!!"],
                                 "--sender: sender '!!' has no letter or digit"),
}


@pytest.mark.parametrize("case", SENDER_CASES)
def test_lint_and_enqueue_refuse_a_sender_alike(
        config: Path, names_file: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    options, message = SENDER_CASES[case]
    lint_code = main(["lint", "--text", TEXT_157, *options])
    captured = capsys.readouterr()
    lint_said = (captured.out.splitlines() or [""])[-1] + captured.err.strip()
    enqueue_code = main(["enqueue", str(names_file), "--campaign", "c1", "--text", TEXT_157,
                         *options, "--config", str(config)])
    enqueue_said = capsys.readouterr().err.strip()
    assert lint_code in (1, 2) and enqueue_code == 2
    assert lint_said.removeprefix("dispatch lint: ") == message
    assert enqueue_said == f"dispatch enqueue: {message}"


@pytest.mark.parametrize("options", [
    ["--sender", "Parti Test"],
    ["--client", "Parti-Test"],  # the client is the sender when none is given
    ["--allow-missing-sender"],
])
def test_lint_and_enqueue_accept_a_sender_alike(
        config: Path, names_file: Path, capsys: pytest.CaptureFixture[str],
        options: list[str]) -> None:
    assert main(["lint", "--text", TEXT_157, *options]) == 0
    election = ["--election", "muni26"] if "--client" in options else []
    assert main(["enqueue", str(names_file), "--campaign", "c1", "--text", TEXT_157,
                 *options, *election, "--config", str(config)]) == 0
