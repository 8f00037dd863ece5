"""A voice campaign's script, checked before anyone is called — pure.

- The preamble is read first, so it must say who calls (the sender, as for an SMS) and how
  to object ("tapez 9 pour ne plus être appelé"): voice messages give the opt-out
  instructions at the start, not the end. Either missing refuses the campaign
  (`missing_sender`, `missing_optout`) unless overridden, as for an SMS text.
- The message is a recording (`audio_url`, http or https) or a text read aloud (`say`,
  with {placeholders} like an SMS text): exactly one.
- Duration: the preamble and a text read aloud at about 2.5 words a second (the usual
  pace of French text-to-speech); a recording's length is not known here.
- Cost: what the provider bills for each call placed, and for each connected minute; a
  connected call's estimate when the duration is known.
"""

from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal
from typing import Any, Final

from dispatch.policy.lint import (
    CURRENCY,
    MISSING_OPTOUT,
    MISSING_SENDER,
    Problem,
    Verdict,
    fold,
    names_sender,
    refusal,
)
from dispatch.template import TemplateError, compile_template, placeholders

WORDS_PER_SECOND: Final = 2.5
# "tapez 9", "appuyez sur la touche 9", "taper le 9", "press 9": a verb, then 9 within a
# few words (accents and case folded first).
_DTMF_OPTOUT: Final = re.compile(
    r"\b(?:tape[rz]?|appuye[rz]|pressez|composez|press|dial)\b(?:\W+\w+){0,4}?\W+9\b")
_WORD: Final = re.compile(r"\w+")


@dataclasses.dataclass(frozen=True)
class VoiceLintReport(Verdict):
    preamble_s: float
    message_s: float | None  # None: a recording, whose length is not known here
    placeholders: tuple[str, ...]
    price_per_attempt: Decimal
    price_per_minute: Decimal
    problems: tuple[Problem, ...]

    @property
    def duration_s(self) -> float | None:
        return None if self.message_s is None else self.preamble_s + self.message_s

    @property
    def cost_per_connected_call(self) -> Decimal | None:
        """A call listened to until its end: the attempt and its minutes, started ones."""
        duration = self.duration_s
        if duration is None:
            return None
        return self.price_per_attempt + self.price_per_minute * math.ceil(duration / 60)

    def to_json(self) -> dict[str, Any]:
        connected = self.cost_per_connected_call
        return {
            "channel": "voice", "preamble_s": round(self.preamble_s, 1),
            "message_s": None if self.message_s is None else round(self.message_s, 1),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 1),
            "placeholders": list(self.placeholders),
            "cost": {"currency": CURRENCY, "per_attempt": str(self.price_per_attempt),
                     "per_connected_minute": str(self.price_per_minute),
                     "per_connected_call": None if connected is None else str(connected)},
            "problems": [problem.to_json() for problem in self.problems], "ok": self.ok,
        }


def lint_voice(preamble: str, *, say: str = "", audio_url: str = "", sender: str | None,
               price_per_attempt: Decimal = Decimal(0), price_per_minute: Decimal = Decimal(0),
               allow_missing_optout: bool = False,
               allow_missing_sender: bool = False) -> VoiceLintReport:
    """Check a voice campaign's preamble and message; see the module docstring."""
    if price_per_attempt < 0 or price_per_minute < 0:
        raise ValueError("prices cannot be negative")
    problems = _message_problems(say, audio_url)
    names, literal = _say_literal(say, problems)
    problems += _preamble_problems(preamble, sender, allow_missing_optout,
                                   allow_missing_sender)
    message_s = None if audio_url else spoken_s(literal)
    return VoiceLintReport(spoken_s(preamble), message_s, names, price_per_attempt,
                           price_per_minute, tuple(problems))


def spoken_s(text: str) -> float:
    """Seconds `text` takes read aloud."""
    return len(_WORD.findall(text)) / WORDS_PER_SECOND


def has_dtmf_optout(text: str) -> bool:
    """Does `text` tell the listener to press 9 to object?"""
    return bool(_DTMF_OPTOUT.search(fold(text)))


def _message_problems(say: str, audio_url: str) -> list[Problem]:
    if bool(say.strip()) == bool(audio_url):
        return [Problem("no_message", "give the message as a recording (--audio-url) or a "
                        "text read aloud (--say), one of them", "error")]
    if audio_url and not audio_url.startswith(("https://", "http://")):
        return [Problem("bad_audio_url", "the recording's URL must start with https:// or "
                        "http:// (the provider fetches it)", "error")]
    return []


def _say_literal(say: str, problems: list[Problem]) -> tuple[tuple[str, ...], str]:
    """The placeholders of a text read aloud, and the text without them."""
    try:
        names = tuple(placeholders(say))
        return names, compile_template(say)([""] * len(names))
    except TemplateError as exc:
        problems.append(Problem("bad_template", f"malformed placeholder: {exc}", "error"))
        return (), say


def _preamble_problems(preamble: str, sender: str | None, allow_optout: bool,
                       allow_sender: bool) -> list[Problem]:
    if not preamble.strip():
        return [Problem("no_preamble", "no preamble: it is read first and must say who "
                        "calls and 'tapez 9 pour ne plus être appelé'", "error")]
    problems: list[Problem] = []
    if not has_dtmf_optout(preamble):
        problems.append(refusal(MISSING_OPTOUT, "the preamble does not say how to object: "
                                 "add e.g. 'tapez 9 pour ne plus être appelé'", allow_optout))
    if sender is None:  # refused as by the SMS lint (dispatch.policy.lint)
        problems.append(refusal(MISSING_SENDER, "no sender identity given: nothing shows "
                                 "that the preamble names who calls", allow_sender))
    elif not names_sender(preamble, sender):
        problems.append(refusal(MISSING_SENDER, f"the preamble does not name the sender "
                                 f"{sender!r}", allow_sender))
    return problems


def default_preamble(sender: str) -> str:
    """The preamble a voice campaign gets when none is given: who calls, how to object."""
    return (f"Bonjour, ceci est un message de {sender}. Pour ne plus être appelé, "
            f"tapez 9.")
