"""The call script and the answers to a keypress, as TwiML (docs/VOICE.md) — pure.

The preamble comes first and inside the Gather, so that a 9 pressed at any moment of the
message counts. Every text is XML-escaped: a campaign's text never changes the markup.
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import escape, quoteattr

from dispatch.vocabulary import CallScript

LANGUAGE: Final = "fr-FR"
GATHER_TIMEOUT_S: Final = 5  # after the message, how long a key may still be pressed
OPT_OUT_DIGIT: Final = "9"
OPTED_OUT_SAY: Final = "Votre demande est enregistrée : vous ne serez plus appelé. Au revoir."
MAX_TWIML: Final = 4000  # characters a provider takes inline


class ScriptTooLong(ValueError):
    """The call script does not fit in one request."""


def call_twiml(script: CallScript, gather_url: str) -> str:
    body = _say(script.preamble) + (_play(script.audio_url) if script.audio_url
                                    else _say(script.say))
    twiml = (f"<Response><Gather numDigits=\"1\" action={quoteattr(gather_url)} "
             f"method=\"POST\" timeout=\"{GATHER_TIMEOUT_S}\">{body}</Gather></Response>")
    if len(twiml) > MAX_TWIML:
        raise ScriptTooLong(f"the call script takes {len(twiml)} characters, more than "
                            f"{MAX_TWIML}: shorten the text, or record it (--audio-url)")
    return twiml


def keypress_twiml(digits: str) -> str:
    """What the recipient hears after pressing a key: a 9 is confirmed, then the call ends."""
    if OPT_OUT_DIGIT in digits:
        return f"<Response>{_say(OPTED_OUT_SAY)}<Hangup/></Response>"
    return "<Response><Hangup/></Response>"


def _say(text: str) -> str:
    return f"<Say language=\"{LANGUAGE}\">{escape(text)}</Say>" if text else ""


def _play(url: str) -> str:
    return f"<Play>{escape(url)}</Play>"
