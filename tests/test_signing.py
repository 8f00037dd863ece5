"""dispatch.signing: the v1 HMAC scheme (window both ways, tampering, rotation, garbage)
and Twilio's, against the vector of Twilio's documentation."""

from __future__ import annotations

import pytest

from dispatch import signing
from dispatch.signing import (
    BAD_SIGNATURE,
    MALFORMED,
    STALE,
    UNSIGNED,
    signed_headers,
    twilio_signature,
    verify,
    verify_twilio,
)

SECRET = "s3cret"
BODY = b'[{"from":"+33612345678","to":"DISPATCH","text":"STOP"}]'
NOW = 1_700_000_000.0


def check(headers: dict[str, str], body: bytes = BODY, now: float = NOW,
          secret: str = SECRET) -> str | None:
    return verify(secret, headers.get(signing.TIMESTAMP_HEADER),
                  headers.get(signing.SIGNATURE_HEADER), body, now)


def test_a_signed_body_verifies_within_the_window_either_way() -> None:
    headers = signed_headers(SECRET, BODY, NOW)
    assert headers[signing.SIGNATURE_HEADER].startswith("v1=")
    assert [check(headers, now=NOW + skew) for skew in (-300, 0, 300)] == [None] * 3
    assert [check(headers, now=NOW + skew) for skew in (-301, 301)] == [STALE] * 2


def test_another_body_or_secret_or_timestamp_is_refused() -> None:
    headers = signed_headers(SECRET, BODY, NOW)
    assert check(headers, BODY.replace(b"STOP", b"START")) == BAD_SIGNATURE
    assert check(headers, secret="other") == BAD_SIGNATURE
    moved = {**headers, signing.TIMESTAMP_HEADER: str(int(NOW) + 1)}  # a fresher replay
    assert check(moved) == BAD_SIGNATURE


@pytest.mark.parametrize(("timestamp", "value", "reason"), [
    (None, None, UNSIGNED), ("1700000000", None, UNSIGNED), (None, "v1=00", UNSIGNED),
    ("soon", "v1=" + "0" * 64, MALFORMED), ("-1", "v1=" + "0" * 64, MALFORMED),
    ("١٧٠٠٠٠٠٠٠٠", "v1=" + "0" * 64, MALFORMED), ("1700000000", "v0=abc", MALFORMED),
    ("1700000000", "v1=" + "0" * 64, BAD_SIGNATURE), ("1700000000", "v1=\ud800", MALFORMED),
])
def test_garbage_headers_are_refused_with_a_reason(timestamp: str | None, value: str | None,
                                                   reason: str) -> None:
    assert verify(SECRET, timestamp, value, BODY, NOW) == reason


def test_a_sender_rotating_its_secret_signs_with_both() -> None:
    old = signed_headers("old-secret", BODY, NOW)[signing.SIGNATURE_HEADER]
    new = signed_headers(SECRET, BODY, NOW)[signing.SIGNATURE_HEADER]
    assert verify(SECRET, str(int(NOW)), f"{old}, {new}", BODY, NOW) is None


def test_twilio_signature_matches_the_documented_vector() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    form = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"),
            ("Digits", "1234"), ("From", "+12349013030"), ("To", "+18005551212")]
    assert twilio_signature("12345", url, form) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert verify_twilio("12345", url, reversed(form), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=") is None
    assert verify_twilio("12345", url + "&x=1", form,
                         "0/KCTR6DLpKmkAf8muzZqo1nDgQ=") == BAD_SIGNATURE
    assert verify_twilio("12345", url, form, None) == UNSIGNED
    assert verify_twilio("12345", url, form, "é") == BAD_SIGNATURE
