"""What a POST to the Messages API says, checked — pure. Every refusal carries the HTTP
status and the provider's error code; only what the message needs survives: the numbers
(until its last status is posted), the sender, the callback URL, and a digest of the body
(to tell a message sent twice), never the text itself."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from dispatch.simulator.accounts import Refusal

SUFFIX: Final = "/Messages.json"
MAX_BODY: Final = 1_600  # characters, as the provider concatenates at most
# "+" and 8 to 15 digits, the first not 0 (no E.164 country code starts with 0).
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
# An alphanumeric sender: 1 to 11 letters, digits and spaces, at least one letter.
_ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")


@dataclass(frozen=True, slots=True)
class MessageRequest:
    to: str
    sender: str  # From, or the MessagingServiceSid (the service is then the line)
    service: bool  # sent through a Messaging Service
    callback: str | None  # StatusCallback
    digest: bytes  # of the body: the same text to the same number from the same line


def parse_message(body: bytes) -> MessageRequest:
    """The form body of a message -> MessageRequest; raises Refusal (400)."""
    try:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(400, 21200, f"the body is not a valid form: {exc}") from None
    to = _to(fields.get("To"))
    sender, service = _sender(fields)
    text = fields.get("Body", "")
    if not text:
        raise Refusal(400, 21602, "Message body is required")
    if len(text) > MAX_BODY:
        raise Refusal(400, 21617, f"The concatenated message body exceeds the {MAX_BODY} "
                                  "character limit")
    return MessageRequest(to, sender, service, _callback(fields.get("StatusCallback")),
                          body_digest(text))


def body_digest(text: str) -> bytes:
    """What the simulator keeps of a message's text: enough to tell it again."""
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def _to(to: str | None) -> str:
    if not to:
        raise Refusal(400, 21604, "A 'To' phone number is required")
    if not _E164.fullmatch(to):
        raise Refusal(400, 21211, "Invalid 'To' Phone Number")
    return to


def _sender(fields: dict[str, str]) -> tuple[str, bool]:
    service = fields.get("MessagingServiceSid")
    if service:
        if not _SERVICE.fullmatch(service):
            raise Refusal(400, 21705, "Invalid Messaging Service Sid")
        return service, True
    sender = fields.get("From")
    if not sender:
        raise Refusal(400, 21603, "A 'From' phone number is required")
    if not any(p.fullmatch(sender) for p in (_E164, _SHORT_CODE, _ALPHANUMERIC)):
        raise Refusal(400, 21212, "Invalid 'From' Phone Number")
    return sender, False


def _callback(url: str | None) -> str | None:
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise Refusal(400, 21609, "Invalid StatusCallback url")
    return url
