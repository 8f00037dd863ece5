"""Signatures of what gateways post to the daemon's inbound port — pure (the clock is given).

Two schemes, as providers sign their webhooks:

- dispatch v1 (HTTP gateways, the simulator): `X-Dispatch-Timestamp: <unix seconds>` and
  `X-Dispatch-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. The timestamp
  is signed with the body, so a captured request cannot be replayed outside the window
  (TOLERANCE_S, either direction: clocks drift both ways) nor given a new timestamp.
  Several `v1=` values (space or comma separated) are accepted, so that a sender can sign
  with the old and the new secret while one is rotated.
- Twilio's (voice gateways): `X-Twilio-Signature: base64(HMAC-SHA1(auth_token, URL +
  each form field's name and value, sorted by name))`, the URL exactly as the provider was
  given it. It carries no timestamp: a replayed status or keypress is one the daemon has
  already recorded (the call is ended, the number already opted out).

A verification answers None (authentic) or why not, a short reason used as a metric label.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Final

TIMESTAMP_HEADER: Final = "X-Dispatch-Timestamp"
SIGNATURE_HEADER: Final = "X-Dispatch-Signature"
TWILIO_HEADER: Final = "X-Twilio-Signature"
SCHEME: Final = "v1"
TOLERANCE_S: Final = 300

# Reasons a request is refused (metric labels).
UNSIGNED: Final = "unsigned"  # no signature header
MALFORMED: Final = "malformed"  # a header that is not a timestamp or a signature
STALE: Final = "stale"  # the timestamp is outside the window
BAD_SIGNATURE: Final = "bad_signature"  # signed with another secret, or the body changed

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take "١٢" or " 1_0"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 value of X-Dispatch-Signature for `body` posted at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """The headers a sender adds to a POST of `body` at unix time `now`."""
    timestamp = int(now)
    return {TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: f"{SCHEME}={signature(secret, timestamp, body)}"}


def verify(secret: str, timestamp: str | None, signatures: str | None, body: bytes,
           now: float, tolerance_s: int = TOLERANCE_S) -> str | None:
    """None if `signatures` (the X-Dispatch-Signature header) holds a v1 signature of
    `body` at `timestamp` (X-Dispatch-Timestamp) by `secret`, within `tolerance_s` of
    `now`; else the reason it is refused."""
    if timestamp is None or signatures is None:
        return UNSIGNED
    candidates = _v1_values(signatures)
    if not _TIMESTAMP.fullmatch(timestamp) or not candidates:
        return MALFORMED
    if abs(now - int(timestamp)) > tolerance_s:
        return STALE
    expected = signature(secret, int(timestamp), body)
    # Every candidate compared (no early exit): the time taken says nothing of which failed.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return None if any(matches) else BAD_SIGNATURE


def _v1_values(header: str) -> list[str]:
    values = []
    for item in header.replace(",", " ").split():
        scheme, _, value = item.partition("=")
        if scheme == SCHEME and _HEX_DIGEST.fullmatch(value):
            values.append(value)
    return values


def twilio_signature(auth_token: str, url: str, form: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature of a form POST to `url` (with its query string, as given to the
    provider) whose fields are `form`."""
    data = url + "".join(name + value for name, value in sorted(form))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(auth_token: str, url: str, form: Iterable[tuple[str, str]],
                  header: str | None) -> str | None:
    """None if `header` (X-Twilio-Signature) signs this form POST to `url`, else why not."""
    if header is None:
        return UNSIGNED
    expected = twilio_signature(auth_token, url, form)
    if hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        return None
    return BAD_SIGNATURE
