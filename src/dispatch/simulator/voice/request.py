"""What a POST to the Calls API says, checked: the account, the credentials, the form —
pure. docs/VOICE.md is the contract; every refusal carries its HTTP status and the
provider's error code.

Only what the call needs survives: the numbers (while the call lasts), the callback URL,
the events asked and the Gather's action; the script itself is parsed and dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from dispatch.simulator.accounts import PREFIX, Refusal, basic_token, check_credentials
from dispatch.simulator.accounts import account_of as account_path_of
from dispatch.simulator.voice.twiml import InvalidTwiml, gather_action

# The account's helpers live in dispatch.simulator.accounts (shared with the Messages
# API); named here too, where the Calls API's tests and callers look for them.
__all__ = ["PREFIX", "CallRequest", "Refusal", "account_of", "basic_token",
           "check_credentials", "parse_call"]
SUFFIX: Final = "/Calls.json"
# "+" and 8 to 15 digits, the first not 0 (no E.164 country code starts with 0).
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")

# StatusCallbackEvent values, as bits; MACHINE_DETECTION: the request asked who answers.
INITIATED: Final = 1
RINGING: Final = 2
ANSWERED: Final = 4
COMPLETED: Final = 8
MACHINE_DETECTION: Final = 16
EVENTS: Final = {"initiated": INITIATED, "ringing": RINGING, "answered": ANSWERED,
                 "completed": COMPLETED}


@dataclass(frozen=True, slots=True)
class CallRequest:
    to: str
    line: str  # From: the line the call goes out from
    callback: str | None  # StatusCallback
    events: int  # EVENTS bits asked, | MACHINE_DETECTION
    action: str | None  # where a 9 is posted: the Gather's action
    timeout_s: float | None  # rings at most this long


def account_of(path: str) -> str | None:
    """The AccountSid of a Calls path, or None if the path is not one."""
    return account_path_of(path, SUFFIX)


def parse_call(body: bytes) -> CallRequest:
    """The form body of a call request -> CallRequest; raises Refusal (400)."""
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(400, 21200, f"the body is not a valid form: {exc}") from None
    fields = dict(pairs)
    return CallRequest(
        to=_to(fields.get("To")),
        line=_required(fields, "From", 21213),
        callback=_url(fields, "StatusCallback"),
        events=_events(pairs, fields),
        action=_action(fields),
        timeout_s=_timeout(fields.get("Timeout")),
    )


def _to(to: str | None) -> str:
    if to is None or not _E164.fullmatch(to):
        raise Refusal(400, 21211, "Invalid 'To' Phone Number")
    return to


def _required(fields: dict[str, str], name: str, code: int) -> str:
    value = fields.get(name)
    if not value:
        raise Refusal(400, code, f"'{name}' is required")
    return value


def _url(fields: dict[str, str], name: str) -> str | None:
    url = fields.get(name) or None
    if url is not None and not url.startswith(("http://", "https://")):
        raise Refusal(400, 21205, f"'{name}' must be an absolute http(s) URL")
    return url


def _events(pairs: list[tuple[str, str]], fields: dict[str, str]) -> int:
    if fields.get("StatusCallbackMethod", "POST").upper() != "POST":
        raise Refusal(400, 21200, "'StatusCallbackMethod': the simulator posts (POST only)")
    bits = 0
    for name, value in pairs:
        if name == "StatusCallbackEvent":
            for event in value.split():  # repeated, or several in one (space-separated)
                bit = EVENTS.get(event)
                if bit is None:
                    raise Refusal(400, 21200, f"'StatusCallbackEvent': unknown event "
                                              f"{event!r} (known: {', '.join(EVENTS)})")
                bits |= bit
    bits = bits or COMPLETED  # the providers' default
    return bits | (MACHINE_DETECTION if fields.get("MachineDetection") else 0)


def _action(fields: dict[str, str]) -> str | None:
    twiml = fields.get("Twiml")
    if not twiml:
        if _url(fields, "Url") is None:
            raise Refusal(400, 21200, "'Twiml' (or 'Url') is required")
        return None  # a script the simulator does not fetch: no Gather known
    try:
        return gather_action(twiml)
    except InvalidTwiml as exc:
        raise Refusal(400, 12100, f"Document parse failure: 'Twiml': {exc}") from None


def _timeout(text: str | None) -> float | None:
    if not text:
        return None
    try:
        timeout = float(text)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 600:  # also false for NaN
        raise Refusal(400, 21200, f"'Timeout' must be a number of seconds in (0, 600], "
                                  f"got {text!r}")
    return timeout
