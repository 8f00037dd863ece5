"""A voice campaign's script: the preamble names the sender and says "tapez 9" first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dispatch.policy.voice_lint import default_preamble, has_dtmf_optout, lint_voice

PREAMBLE = "Bonjour, ceci est un message du Parti X. Pour ne plus être appelé, tapez 9."


@pytest.mark.parametrize(("text", "expected"), [
    ("Pour ne plus être appelé, tapez 9.", True), ("TAPEZ LE 9", True),
    ("Appuyez sur la touche 9 pour ne plus être appelé.", True), ("press 9 to opt out", True),
    ("tapez 1 pour en savoir plus", False), ("Répondez STOP", False), ("tapez 99", False),
])
def test_the_opt_out_instruction_is_found_in_its_usual_forms(text: str, expected: bool) -> None:
    assert has_dtmf_optout(text) is expected


def test_a_good_script_is_measured_and_costed() -> None:
    report = lint_voice(PREAMBLE, say="Votez pour {candidat} le 11 avril.", sender="Parti X",
                        price_per_attempt=Decimal("0.02"), price_per_minute=Decimal("0.05"))
    assert report.ok and report.placeholders == ("candidat",)
    assert (report.preamble_s, report.message_s) == (6.0, 2.0)  # 15 and 5 words at 2.5/s
    assert report.cost_per_connected_call == Decimal("0.07")  # one minute started
    assert report.to_json()["cost"]["per_connected_call"] == "0.07"


def test_a_recording_has_no_known_length_and_no_connected_cost() -> None:
    report = lint_voice(PREAMBLE, audio_url="https://a.example/m.mp3", sender="Parti X")
    assert report.ok and report.message_s is None and report.cost_per_connected_call is None


def test_a_preamble_without_the_sender_or_the_9_is_refused_unless_overridden() -> None:
    refused = lint_voice("Bonjour.", say="Votez.", sender="Parti X")
    assert [p.code for p in refused.refusals] == ["missing_optout", "missing_sender"]
    allowed = lint_voice("Bonjour.", say="Votez.", sender="Parti X",
                         allow_missing_optout=True, allow_missing_sender=True)
    assert allowed.ok and allowed.overridden == ("missing_optout", "missing_sender")


@pytest.mark.parametrize(("say", "audio_url", "code"), [
    ("", "", "no_message"), ("Votez.", "https://a.example/m.mp3", "no_message"),
    ("", "ftp://a.example/m.mp3", "bad_audio_url"), ("Votez {", "", "bad_template"),
])
def test_the_message_is_one_recording_or_one_text(say: str, audio_url: str, code: str) -> None:
    report = lint_voice(PREAMBLE, say=say, audio_url=audio_url, sender="Parti X")
    assert code in [p.code for p in report.refusals]


def test_the_default_preamble_passes_for_its_sender() -> None:
    assert lint_voice(default_preamble("Liste Y"), say="Votez.", sender="Liste Y").ok


def test_no_sender_given_is_refused_unless_overridden_as_for_an_sms() -> None:
    refused = lint_voice(PREAMBLE, say="Votez !", sender=None)
    assert [(p.code, p.severity) for p in refused.refusals] == [("missing_sender", "error")]
    allowed = lint_voice(PREAMBLE, say="Votez !", sender=None, allow_missing_sender=True)
    assert allowed.ok and allowed.overridden == ("missing_sender",)
