"""The Messages API's answers to `POST .../Messages.json`, read into the vocabulary — pure.

- 200/201 with a `sid`: Accepted (the sid is what status callbacks name); without one the
  message may have been created: Retry, counted invalid_answer.
- 429, or code 20429 (too many requests) or 21611 (the From's queue is full): throttled,
  Retry that uses no attempt, after the provider's Retry-After.
- 401, 403, 404: the account, the token or the URL is wrong, and every message would fail
  alike: Retry that uses no attempt, at least CONFIG_RETRY_S later (the gateway logs it
  and reports itself unhealthy); fixed settings let the messages go.
- 5xx, 408: Retry (the provider may have created the message: fate unknown).
- any other 4xx: Rejected, "twilio error <code>: <message>" (21211 invalid To, 21408 no
  permission for the region, 21610 the recipient unsubscribed at the provider...).

A provider's message may quote the number: reasons mask any run of digits.
"""

from __future__ import annotations

from typing import Any, Final

from dispatch.gateways.provider import CONFIG_RETRY_S, masked
from dispatch.vocabulary import Accepted, Rejected, Retry, SubmitResult

UNSUBSCRIBED: Final = 21610  # "Attempt to send to unsubscribed recipient"
THROTTLED_CODES: Final = frozenset({20429, 21611})
CONFIG_STATUSES: Final = frozenset({401, 403, 404})
# The error codes counted under their own label (a closed set: a metric label each);
# any other error is counted by its HTTP status.
KNOWN_CODES: Final = frozenset({
    20003, 20404, 20429, 21211, 21212, 21408, 21602, 21603, 21604, 21606, 21610, 21611,
    21612, 21614, 21617, 21705})
REASON_CHARS: Final = 200


def provider_code(payload: Any) -> int | None:
    """The provider's error code in an error answer's JSON, if it has one."""
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def error_label(status: int, payload: Any) -> str:
    """What an error answer is counted as (dispatch.gateways.errors): `twilio_21610`, or
    the HTTP status for a code outside KNOWN_CODES."""
    code = provider_code(payload)
    return f"twilio_{code}" if code in KNOWN_CODES else str(status)


def submission_result(status: int, payload: Any, retry_after_s: float | None
                      ) -> SubmitResult:
    """The result of one message's request, answered `status` with `payload` (JSON)."""
    if status in (200, 201):
        sid = payload.get("sid") if isinstance(payload, dict) else None
        if isinstance(sid, str) and sid:
            return Accepted(sid)
        return Retry(f"HTTP {status} without a message sid: fate unknown")
    code = provider_code(payload)
    reason = error_reason(status, payload)
    if status == 429 or code in THROTTLED_CODES:
        return Retry(reason, retry_after_s, counts=False, throttled=True, unsent=True)
    if status in CONFIG_STATUSES:  # refused before sending anything (a route may move it)
        return Retry(reason, max(retry_after_s or 0.0, CONFIG_RETRY_S), counts=False,
                     unsent=True)
    if status >= 500 or status == 408:
        return Retry(reason, retry_after_s)
    return Rejected(reason)


def error_reason(status: int, payload: Any) -> str:
    """`twilio error 21211: Invalid 'To' Phone Number` (numbers masked), or `HTTP 502`
    when the answer carries no code."""
    code = provider_code(payload)
    if code is None:
        return f"HTTP {status}"
    message = payload.get("message") if isinstance(payload, dict) else None
    text = masked(" ".join(str(message).split())[:REASON_CHARS]) if message else "error"
    return f"twilio error {code}: {text}"
