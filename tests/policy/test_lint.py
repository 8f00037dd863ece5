"""Campaign text lint: encoding, parts, cost, opt-out mention, sender; and `dispatch lint`."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dispatch.commands import lint as lint_command
from dispatch.commands.common import UserError
from dispatch.policy.lint import (
    has_optout_mention,
    lint_text,
    names_sender,
    refused_because,
    sender_identity,
)

GOOD = "Marie Dupont vous invite à voter le 11 avril. STOP au 36111"
# 157 characters besides {prenom}: one part for "Léa", two for any longer first name.
TEXT_157 = ("Bonjour {prenom}, Parti Test vous attend dimanche à 9h place de la Mairie pour le "
            "grand meeting de fin de campagne. Venez nombreux avec tous vos amis ! STOP au "
            "36111")


def codes(text: str, **kwargs: object) -> list[str]:
    return [problem.code for problem in lint_text(text, **kwargs).problems]  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "STOP au 36111", "stop au 36111", "Stop à 36111", "STOP 36111", "STOP: 36111",
    "STOP:36111", "STOP @ 36 111", "STOP SMS au 36111", "STOP to 38200", "Text STOP to 36111",
    "Répondez STOP", "repondez stop", "Répondez « STOP »", 'Reply "STOP"', "Tapez STOP",
    "Envoyez STOP par SMS", "Répondre par STOP", "STOP SMS", "Stop Pub",
    "Pour ne plus recevoir nos messages : STOP au 36 1 11.",
])
def test_optout_mentions(text: str) -> None:
    assert has_optout_mention(f"Votez Dupont ! {text}")


@pytest.mark.parametrize("text", [
    "Votez Dupont !", "STOP au 36xxx", "Stop à la violence", "STOP au 12", "STOP au 1234567",
    "Nous disons stop 2 fois", "répondez vite", "STOPPEZ au 36111",
])
def test_not_optout_mentions(text: str) -> None:
    assert not has_optout_mention(text)


@pytest.mark.parametrize(("text", "sender", "named"), [
    ("Marie Dupont vous invite", "Marie Dupont", True),
    ("MARIE DUPONT vous invite", "marie dupont", True),
    ("Hélène Lefèvre-Côté vous invite", "helene lefevre cote", True),
    ("Avec Parti Écologiste !", "parti ecologiste", True),
    ("Marie Dupontel vous invite", "Marie Dupont", False),
    ("Marie vous invite", "Marie Dupont", False),
])
def test_sender_is_named_as_whole_words_ignoring_accents_case_punctuation(
        text: str, sender: str, named: bool) -> None:
    assert names_sender(text, sender) is named


def test_a_sender_without_letters_is_an_error() -> None:
    with pytest.raises(ValueError, match="no letter or digit"):
        names_sender("x", "!!!")


def test_a_good_gsm7_text() -> None:
    report = lint_text(GOOD, sender="Marie Dupont", recipients=1000)
    assert (report.encoding, report.forcing_chars, report.parts, report.units) == (
        "gsm7", (), 1, len(GOOD))
    assert report.problems == () and report.ok
    assert (report.cost_per_message, report.cost) == (Decimal("0.10"), Decimal("100.00"))


def test_ucs2_names_the_forcing_characters_and_suggests_substitutes() -> None:
    report = lint_text("Marie Dupont : c’est l’heure, votez ! Répondez STOP " + "x" * 40,
                       sender="Marie Dupont", price_per_part=Decimal("0.15"), recipients=3)
    assert (report.encoding, report.forcing_chars, report.parts) == ("ucs2", ("’",), 2)
    assert report.cost == Decimal("0.90")
    [problem] = report.problems
    assert (problem.code, problem.severity) == ("ucs2", "warning")
    assert "’ -> '" in problem.message
    assert report.ok


def test_missing_optout_and_sender_refuse_unless_overridden() -> None:
    assert codes("Votez Dupont", sender="Marie Dupont") == ["missing_optout", "missing_sender"]
    assert not lint_text("Votez Dupont", sender="Marie Dupont").ok
    allowed = lint_text("Votez Dupont", sender="Marie Dupont", allow_missing_optout=True,
                        allow_missing_sender=True)
    assert allowed.ok
    assert [p.severity for p in allowed.problems] == ["warning", "warning"]
    assert allowed.overridden == ("missing_optout", "missing_sender")
    assert lint_text("Votez Dupont", sender="Marie Dupont").overridden == ()


def test_an_override_of_a_rule_the_text_meets_is_not_counted() -> None:
    report = lint_text("Marie Dupont. STOP au 36111", sender="Marie Dupont",
                       allow_missing_optout=True, allow_missing_sender=True)
    assert report.problems == () and report.overridden == ()


def test_a_sender_not_given_refuses_unless_overridden() -> None:
    # The rule enqueue applies: nothing else shows that the text names who sends it.
    refused = lint_text("Votez ! STOP au 36111")
    assert [(p.code, p.severity) for p in refused.refusals] == [("missing_sender", "error")]
    assert "no sender identity given" in refused.refusals[0].message
    assert refused_because(refused.refusals) == (
        "the text is refused: no sender identity given: nothing shows that the text names "
        "who sends it (fix the text, or override: --sender NAME or --allow-missing-sender)")
    allowed = lint_text("Votez ! STOP au 36111", allow_missing_sender=True)
    assert allowed.ok and allowed.overridden == ("missing_sender",)
    assert allowed.cost is None


def test_the_sender_is_the_one_given_else_the_client() -> None:
    assert sender_identity(" Parti Test ", "Client") == "Parti Test"
    assert sender_identity("", "Client") == sender_identity(None, "Client") == "Client"
    assert sender_identity("  ", None) is None


def test_placeholders_are_counted_at_their_worst_with_a_warning() -> None:
    report = lint_text("Bonjour {prénom}, Marie Dupont compte sur vous. STOP au 36111 {{ok}}",
                       sender="Marie Dupont")
    assert report.placeholders == ("prénom",)
    literal = len("Bonjour , Marie Dupont compte sur vous. STOP au 36111 ") + 2 * 2 + 2
    assert report.units == literal
    assert report.worst_case is not None
    assert (report.worst_case.units, report.parts) == (literal + 20, 2)  # 20 in UCS-2: 2
    assert codes("Bonjour {prénom} STOP au 36111", sender="Bonjour") == ["placeholders"]


def test_a_157_character_text_with_a_first_name_is_two_parts_at_worst() -> None:
    text = TEXT_157
    assert len(text) - len("{prenom}") == 157
    report = lint_text(text, sender="Parti Test", recipients=1000)
    assert report.worst_case is not None
    assert (report.worst_case.fewest, report.worst_case.most, report.worst_case.ucs2) == (
        1, 2, 3)
    assert (report.parts, report.cost_basis, report.cost) == (3, "worst_case", Decimal("300.00"))
    [warning] = report.problems
    assert "{prenom} at 20 characters and in UCS-2" in warning.message


def test_bad_templates_and_empty_texts_are_errors() -> None:
    assert codes("Bonjour {prénom STOP au 36111", sender="Bonjour") == ["bad_template"]
    assert codes("", allow_missing_optout=True, allow_missing_sender=True) == [
        "empty", "missing_optout", "missing_sender"]


def test_negative_price_or_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        lint_text(GOOD, price_per_part=Decimal("-1"))


# --- the `dispatch lint` sub-command ------------------------------------------------------

def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="dispatch")
    lint_command.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lint", *argv])
    code: int = args.handler(args)
    return code, capsys.readouterr().out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["--text", GOOD, "--sender", "Marie Dupont", "--count", "2500",
                     "--price-per-part", "0,12", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {
        "encoding": "gsm7", "forcing_chars": [], "parts": 1, "units": len(GOOD),
        "placeholders": [], "worst_case": None, "queued": None,
        "cost": {"currency": "EUR", "price_per_part": "0.12", "per_message": "0.12",
                 "recipients": 2500, "total": "300.00", "basis": "text"},
        "problems": [], "ok": True}


def test_cli_refuses_with_exit_1_and_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["--text", "Votez ça’", "--sender", "Dupont", "--json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["forcing_chars"] == ["ç", "’"]
    assert [p["code"] for p in report["problems"]] == ["ucs2", "missing_optout", "missing_sender"]
    code, _ = run(["--text", "Votez ça’", "--sender", "Dupont", "--allow-missing-optout",
                   "--allow-missing-sender"], capsys)
    assert code == 0


def test_cli_human_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text_file = tmp_path / "message.txt"
    text_file.write_text("Marie Dupont : « Votez » STOP au 36111\n", encoding="utf-8")
    code, out = run(["--text-file", str(text_file), "--count", "1000", "--client",
                     "Marie Dupont"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "encoding: UCS-2 (forced by: « »)",
        "parts: 1 (38 UTF-16 units)",
        "cost: 1 x 0.10 EUR = 0.10 EUR per message; x 1,000 recipients = 100.00 EUR",
        'warning: ucs2: UCS-2 (70 characters per part instead of 160) because of « »; '
        'replace « -> ", » -> " to stay in GSM-7',
        "ok"]


def test_cli_human_output_with_placeholders(capsys: pytest.CaptureFixture[str]) -> None:
    text = TEXT_157
    code, out = run(["--text", text, "--sender", "Parti Test", "--count", "1000"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "encoding: GSM-7; a value with a character outside GSM-7 (ç ô ï ë…) makes its message "
        "UCS-2",
        "parts: 1 to 2 per message ({prenom} up to 20 characters: at most 177 GSM-7 "
        "characters); 3 in UCS-2",
        "cost: at most 3 x 0.10 EUR = 0.30 EUR per message; x 1,000 recipients = at most "
        "300.00 EUR",
        "warning: placeholders: the length varies per recipient: parts and cost are the worst "
        "case ({prenom} at 20 characters and in UCS-2; --placeholder-length NAME=N to "
        "change); dispatch enqueue counts them exactly",
        "ok"]


def test_cli_placeholder_length(capsys: pytest.CaptureFixture[str]) -> None:
    text = TEXT_157
    code, out = run(["--text", text, "--sender", "Parti Test", "--placeholder-length",
                     "prenom=3", "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["worst_case"] == {"lengths": {"prenom": 3}, "parts_min": 1, "parts_max": 1,
                                    "units_max": 160, "parts_max_if_ucs2": 3}
    with pytest.raises(UserError, match=r"the text has no \{nom\} placeholder"):
        run(["--text", text, "--placeholder-length", "nom=3"], capsys)
    for bad in ("prenom", "prenom=0", "=3", "prenom=x"):
        with pytest.raises(SystemExit):
            run(["--text", text, "--placeholder-length", bad], capsys)


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="exactly one of --text or --text-file"):
        run([], capsys)
    with pytest.raises(UserError, match="no such file"):
        run(["--text-file", str(tmp_path / "missing.txt")], capsys)
    with pytest.raises(UserError, match="no letter or digit"):
        run(["--text", GOOD, "--sender=!!!"], capsys)
    for bad in (["--count", "-3"], ["--count", "many"], ["--price-per-part", "cheap"],
                ["--price-per-part", "-0.1"], ["--price-per-part", "nan"]):
        with pytest.raises(SystemExit):
            run(["--text", GOOD, *bad], capsys)
    assert "is not" in capsys.readouterr().err
