"""The MO keyword matrix: French, English, accents, punctuation, first word, non-matches."""

from __future__ import annotations

import pytest

from dispatch.policy.keywords import Intent, classify, normalise

OPT_OUT, OPT_IN, HELP, REPLY = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP, Intent.REPLY


@pytest.mark.parametrize("text", [
    # the canonical keyword, any case, any punctuation or spacing around it
    "STOP", "stop", "Stop", "sToP", " STOP ", "STOP.", "STOP!!!", "¡STOP!", "\"STOP\"",
    "«STOP»", "STOP\n", "\tSTOP", "STOP 🙏", "stop😡", "S.T.O.P", "S T O P", "s-t-o-p",
    "ＳＴＯＰ", "ST\u200bOP", "\u00a0STOP\u202f",
    # the French set, accents or not
    "ARRET", "ARRÊT", "arrêt", "Arrêt.", "ARRETER", "arrêter", "Arrêtez", "DESABONNER",
    "désabonner", "Désabonnez-moi", "DESINSCRIRE", "désinscrire", "Désinscription",
    "STOP SMS", "stop sms", "Stop-SMS", "STOP PUB", "stop pub", "STOPPUB",
    # the international set
    "STOPALL", "stop all", "UNSUBSCRIBE", "Unsubscribe", "CANCEL", "END", "end", "QUIT",
    "OPTOUT", "opt-out", "Opt out", "OPT OUT please", "REVOKE",
])
def test_opt_out_keywords_as_the_whole_message(text: str) -> None:
    assert classify(text) is OPT_OUT


@pytest.mark.parametrize("text", [
    "Stop merci", "STOP svp", "Stop, je ne veux plus", "STOP au 36111", "STOP36111",
    "Arrêtez de m'écrire", "arrêtez de m’écrire", "Arrête ça", "Désabonnez moi svp",
    "Unsubscribe me", "Cancel my subscription", "Quit sending", "End this",
    "Stoppez pas",  # colloquial "don't stop": ambiguous, so honoured as an objection
    "STOPPER", "stopper les sms",
    "cancel culture is bad",  # the first word rule has no exceptions: accepted false positive
])
def test_opt_out_as_the_first_word(text: str) -> None:
    assert classify(text) is OPT_OUT


@pytest.mark.parametrize("text", [
    "Merci STOP", "svp stop", "ne m'écrivez plus. STOP", "je veux me désinscrire",
    "Comment on fait pour se désabonner", "merci de me passer en optout",
    "non-stop",  # ends with STOP: accepted false positive, see the module docstring
])
def test_unambiguous_opt_out_as_the_last_word(text: str) -> None:
    assert classify(text) is OPT_OUT


@pytest.mark.parametrize("text", [
    "Je ne veux pas arrêter", "Bonne campagne, ne lâchez rien", "stoooop", "stopover",
    "Stopping by later", "endroit", "quitter la ville", "information", "Les infos du jour ?",
    "l'arrêt de bus est loin", "the end is near?", "I want to quit smoking today",
    "aidez les autres", "", "   ", "😀", "...", "36111",
])
def test_non_matches_are_replies(text: str) -> None:
    assert classify(text) is REPLY


@pytest.mark.parametrize("text", ["START", "start", "Start!", "UNSTOP", "unstop", "Start please"])
def test_opt_back_in(text: str) -> None:
    assert classify(text) is OPT_IN


@pytest.mark.parametrize("text", ["OUI", "oui", "Oui !", "Oui merci", "YES"])
def test_oui_opts_in_only_when_answering_a_consent_request(text: str) -> None:
    assert classify(text, consent_request=True) is OPT_IN
    assert classify(text) is REPLY


@pytest.mark.parametrize("text", ["NON", "non merci", "No"])
def test_a_refused_consent_request_is_an_opt_out(text: str) -> None:
    assert classify(text, consent_request=True) is OPT_OUT
    assert classify(text) is REPLY


@pytest.mark.parametrize("text", ["HELP", "help", "Help?", "INFO", "info ?", "Infos", "AIDE",
                                  "aide moi", "Aide!"])
def test_help(text: str) -> None:
    assert classify(text) is HELP


@pytest.mark.parametrize("text", ["START STOP", "Oui mais STOP", "help stop", "info: stop"])
def test_an_opt_out_wins_over_any_other_intent(text: str) -> None:
    assert classify(text, consent_request=True) is OPT_OUT


def test_normalise_strips_accents_case_punctuation_and_apostrophes() -> None:
    assert normalise("Arrêtez, m’écrire l'été ＦＩＮ!").split() == [
        "arretez", "m", "ecrire", "l", "ete", "fin"]
