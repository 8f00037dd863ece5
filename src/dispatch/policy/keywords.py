"""What an inbound SMS (MO) asks for: opt out, opt back in, help, or a plain reply — pure.

Runs on every MO, so the keyword tables are sets built once and the text is normalised with
one `str.translate` (C speed) instead of a regex per keyword.

Normalisation (`normalise`): NFKD (full-width letters, ligatures, the accents of ARRÊT come
apart), combining marks and invisible format characters (zero-width space, joiners) removed,
case folded, and every other character that is not a letter or a digit (punctuation,
emoji, ’ and ', any kind of space) becomes a word separator. "S.T.O.P", "Stop !!!",
"ＳＴＯＰ", "stop😡" and "  Arrêt. " all normalise to one keyword.

Matching, opt-out first so that an ambiguous message is always an opt-out:
- OPT_OUT when the whole message, its separators removed ("S T O P", "stop-pub", "opt out"),
  is a keyword; or its first word is ("Stop merci", "STOP SMS", "Arrêtez de m'écrire"); or
  its first two words joined are ("Opt out please", "stop all"); or its LAST word is one of
  the unambiguous keywords (STOP, ARRET, STOPALL, UNSUBSCRIBE, OPTOUT, DESABONNER,
  DESINSCRIRE: "Merci de ne plus m'écrire, STOP"). The last-word rule goes beyond
  COMPLIANCE.md on purpose: people often sign off with STOP, and a missed objection is a
  CNIL breach while a false one costs one recipient. English words with an everyday
  meaning (END, QUIT, CANCEL, REVOKE) count only as the whole message or the first word.
- Inflections of the French verbs count as the first word: STOPPER, STOPPEZ, ARRETER,
  ARRETEZ, ARRETE, DESABONNEZ, DESINSCRIVEZ... "Stoppez pas" (colloquial "don't stop") is
  therefore an opt-out: we cannot tell irony from a request, and we err towards honouring.
- A first word made of a keyword and digits ("STOP36111") is the keyword.
- Consequences we accept: "non-stop" and "don't stop" end with STOP, and "Cancel my
  appointment" starts with CANCEL, so they opt out.
- Not opt-outs (kept as replies, for a human to read): a keyword inside a sentence that is
  neither its first word nor an unambiguous last word ("je ne veux pas arrêter"), words
  that merely contain a keyword ("stopover", "endroit", "quitter", "information"), and
  elongations ("stoooop").
- OPT_IN: START or UNSTOP as the whole message or first word; with `consent_request=True`
  (the MO answers a consent request) also OUI / YES, and then NON / NO is an opt-out
  (a refusal of consent is honoured like a STOP).
- HELP: HELP, INFO, INFOS, AIDE as the whole message or first word.
- REPLY: everything else, including an empty message.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import Final


class Intent(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REPLY = "reply"


def _words(*spellings: str) -> frozenset[str]:
    return frozenset(spellings)


# Keywords in normalised form: lower case, ASCII, no separators.
OPT_OUT_STRONG: Final = _words(
    "stop", "arret", "stopall", "unsubscribe", "optout", "desabonner", "desinscrire",
)
OPT_OUT_KEYWORDS: Final = OPT_OUT_STRONG | _words(
    "stopsms", "stoppub", "stopper", "stoppez", "stoppe",
    "arreter", "arretez", "arrete", "arretes",
    "desabonnez", "desabonne", "desabonnement", "desinscrivez", "desinscris",
    "desinscription", "unsub", "cancel", "end", "quit", "revoke",
)
OPT_IN_KEYWORDS: Final = _words("start", "unstop")
CONSENT_YES: Final = _words("oui", "yes")
CONSENT_NO: Final = _words("non", "no")
HELP_KEYWORDS: Final = _words("help", "info", "infos", "aide")
_LONGEST: Final = max(len(k) for k in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS)

_SPACE: Final = " "
_DIGITS: Final = "0123456789"
_DROPPED_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})  # combining marks, invisible format


_FOLD_TABLE_MAX: Final = 20_000  # distinct characters remembered (memory bound)


class _FoldTable(dict[int, str | None]):
    """str.translate table built lazily: each distinct character is classified once (the
    first 20,000 distinct characters: an MO stream of exotic characters cannot grow it)."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        mapped: str | None
        if unicodedata.category(char) in _DROPPED_CATEGORIES:
            mapped = None
        elif char.isalnum():
            mapped = char.casefold()
        else:
            mapped = _SPACE
        if len(self) < _FOLD_TABLE_MAX:
            self[code] = mapped
        return mapped


_FOLD: Final = _FoldTable()


def normalise(text: str) -> str:
    """`text` folded for keyword matching: no accents, lower case, separators as spaces."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
    return text.translate(_FOLD)


def classify(text: str, *, consent_request: bool = False) -> Intent:
    """The intent of an MO text; see the module docstring for the exact rules."""
    words = normalise(text).split()
    if not words:
        return Intent.REPLY
    first = words[0]
    whole = _joined(words)
    if _is_opt_out(words, first, whole) or (consent_request and _either(CONSENT_NO, first, whole)):
        return Intent.OPT_OUT
    if _either(OPT_IN_KEYWORDS, first, whole) or (
            consent_request and _either(CONSENT_YES, first, whole)):
        return Intent.OPT_IN
    if _either(HELP_KEYWORDS, first, whole):
        return Intent.HELP
    return Intent.REPLY


def _joined(words: list[str]) -> str:
    """The message without separators, when short enough to be a keyword (else "")."""
    if len(words) == 1:
        return words[0]
    if sum(map(len, words)) > _LONGEST:
        return ""
    return "".join(words)


def _is_opt_out(words: list[str], first: str, whole: str) -> bool:
    if first in OPT_OUT_KEYWORDS or whole in OPT_OUT_KEYWORDS or words[-1] in OPT_OUT_STRONG:
        return True
    if len(words) > 1 and first + words[1] in OPT_OUT_KEYWORDS:
        return True
    return first[-1].isdigit() and first.rstrip(_DIGITS) in OPT_OUT_KEYWORDS


def _either(keywords: frozenset[str], first: str, whole: str) -> bool:
    return first in keywords or whole in keywords
