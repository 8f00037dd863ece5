"""Reading a call script (TwiML) just enough: where a keypress goes — pure.

The simulator plays nothing, so of the whole script it keeps one fact, the first
`<Gather>`'s `action` URL (where the recipient's 9 is posted), and keeps no text.
A script that is not well-formed XML under `<Response>`, or whose Gather could not be
followed (an action that is not an absolute http(s) URL, a `method` other than POST, a
`numDigits` that is not a positive integer), is refused: a real provider would fail the
call later, the simulator says why at once.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Final

MAX_TWIML: Final = 4_000  # characters, as the providers allow inline


class InvalidTwiml(ValueError):
    """The script cannot be run; the message says why."""


def gather_action(twiml: str) -> str | None:
    """The first Gather's action URL, or None (no Gather, or one without an action: with
    an inline script there is no document URL to post the digits to)."""
    if len(twiml) > MAX_TWIML:
        raise InvalidTwiml(f"the script is longer than {MAX_TWIML} characters")
    if "<!DOCTYPE" in twiml:  # entity expansion: TwiML never needs a DTD
        raise InvalidTwiml("a DTD is not allowed")
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as exc:
        raise InvalidTwiml(f"not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise InvalidTwiml(f"the root element must be <Response>, got <{root.tag}>")
    gather = root.find(".//Gather")
    return None if gather is None else _action(gather)


def _action(gather: ET.Element) -> str | None:
    method = gather.get("method", "POST")
    if method.upper() != "POST":
        raise InvalidTwiml(f"<Gather method={method!r}>: the simulator posts digits (POST)")
    digits = gather.get("numDigits")
    if digits is not None and not (digits.isascii() and digits.isdigit() and int(digits) >= 1):
        raise InvalidTwiml(f"<Gather numDigits={digits!r}>: must be a positive integer")
    action = gather.get("action")
    if action is not None and not action.startswith(("http://", "https://")):
        raise InvalidTwiml(f"<Gather action={action!r}>: must be an absolute http(s) URL")
    return action
