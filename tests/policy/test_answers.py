"""Which MO gets which answer, and its text — pure."""

from __future__ import annotations

import pytest

from dispatch.policy.answers import HELP, OPTOUT_CONFIRMATION, AnswerTexts, check_text
from dispatch.policy.keywords import Intent, classify
from dispatch.settings import AnswerSettings

DEFAULTS = AnswerSettings()
TEXTS = AnswerTexts("Dispatch", DEFAULTS.help_text, DEFAULTS.optout_text)


@pytest.mark.parametrize(("mo", "reason"), [
    ("STOP", OPTOUT_CONFIRMATION), ("Stop merci", OPTOUT_CONFIRMATION),
    ("ARRÊT", OPTOUT_CONFIRMATION), ("unsubscribe", OPTOUT_CONFIRMATION),
    ("AIDE", HELP), ("help", HELP), ("Info ?", HELP), ("INFOS", HELP),
    ("START", None), ("UNSTOP", None), ("Merci, à dimanche", None), ("", None),
    ("information", None),
])
def test_the_answer_follows_the_classification(mo: str, reason: str | None) -> None:
    assert TEXTS.reason_for(classify(mo)) == reason


def test_no_confirmation_when_turned_off() -> None:
    texts = AnswerTexts("Dispatch", DEFAULTS.help_text, DEFAULTS.optout_text,
                        confirm_optout=False)
    assert texts.reason_for(Intent.OPT_OUT) is None
    assert texts.reason_for(Intent.HELP) == HELP


def test_the_help_text_names_who_sends_and_how_to_object() -> None:
    assert TEXTS.text(HELP, "36111", ["Parti Test", "", "Parti Test", "Liste B"]) == (
        "Dispatch : vous recevez ce message de Parti Test, Liste B. Pour ne plus recevoir de "
        "messages, répondez STOP.")
    assert TEXTS.text(HELP, "36111") == (  # no campaign wrote to the number: the identity
        "Dispatch : vous recevez ce message de Dispatch. Pour ne plus recevoir de messages, "
        "répondez STOP.")


def test_the_confirmation_has_no_campaign_content() -> None:
    assert TEXTS.text(OPTOUT_CONFIRMATION, "36111", ["Parti Test"]) == (
        "Vous ne recevrez plus de messages de ce numéro.")
    custom = AnswerTexts("Dispatch", "{identity} au {line}", "{client} : c'est noté ({line}).")
    assert custom.text(HELP, "36111", ["X"]) == "Dispatch au 36111"
    assert custom.text(OPTOUT_CONFIRMATION, "36111", ["X"]) == "X : c'est noté (36111)."


@pytest.mark.parametrize(("text", "message"), [
    ("  ", "help_text: the text is empty"),
    ("Bonjour {prenom}", "help_text: unknown placeholder {prenom} (known: {identity}, "
                         "{client}, {line})"),
    ("Bonjour {client", "help_text: unclosed '{'"),
])
def test_bad_texts_are_refused_naming_the_setting(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_text("help_text", text)
    assert str(caught.value).startswith(message)
