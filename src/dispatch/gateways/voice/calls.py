"""The provider's words, read into the vocabulary — pure.

- the answer to a call's placement: Accepted with the call's id, Rejected (a 4xx: the
  number or the request is refused for good) or Retry (throttled, line busy, credentials
  refused, 5xx, no answer);
- a status callback: the call's end (CallEnded), or None for a progress event;
- a keypress callback (Keypress).

A provider's error message may quote the number: reasons keep its code and status, and
mask any run of digits.
"""

from __future__ import annotations

import math
from typing import Any, Final

from dispatch.gateways.provider import CONFIG_RETRY_S, CallbackError, Form, masked, required
from dispatch.vocabulary import (
    Accepted,
    CallEnded,
    CallOutcome,
    Keypress,
    Rejected,
    Retry,
    SubmitResult,
)

FINAL_STATUSES: Final[dict[str, CallOutcome]] = {
    "busy": CallOutcome.BUSY, "no-answer": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED, "canceled": CallOutcome.UNKNOWN,
}
PROGRESS_STATUSES: Final = frozenset({"queued", "initiated", "ringing", "in-progress"})
MACHINE_PREFIXES: Final = ("machine", "fax")

__all__ = ["CallbackError", "call_ended", "keypress", "placement_result"]

def placement_result(status: int, payload: Any, retry_after_s: float | None) -> SubmitResult:
    """The result of POST .../Calls.json answered `status` with `payload` (JSON)."""
    if status in (200, 201):
        sid = payload.get("sid") if isinstance(payload, dict) else None
        if isinstance(sid, str) and sid:
            return Accepted(sid)
        return Retry("placed without a call id: fate unknown")
    reason = f"HTTP {status}: {_error_text(payload)}"
    if status == 429:
        return Retry(reason, retry_after_s, counts=False, throttled=True)
    if status in (401, 403):
        return Retry(reason, max(retry_after_s or 0.0, CONFIG_RETRY_S), counts=False)
    if status == 409:  # the line is on a call: it must be freed first
        return Retry(reason, retry_after_s, counts=False)
    if status >= 500 or status == 408:
        return Retry(reason, retry_after_s)
    return Rejected(reason)


def call_ended(form: Form) -> CallEnded | None:
    """A final status callback as the call's end; None for a progress event."""
    sid, status = required(form, "CallSid"), required(form, "CallStatus").lower()
    if status in PROGRESS_STATUSES:
        return None
    if status == "completed":
        answered_by = form.get("AnsweredBy", "")
        machine = answered_by.startswith(MACHINE_PREFIXES)
        outcome = CallOutcome.MACHINE if machine else CallOutcome.HUMAN
        reason = f"answered by {'a machine' if machine else 'a person'}"
        return CallEnded(sid, outcome, _duration(form), reason)
    if status not in FINAL_STATUSES:
        raise CallbackError(f"unknown CallStatus {status[:40]!r}")
    sip = form.get("SipResponseCode", "")
    reason = f"{status} (SIP {sip[:8]})" if sip else status
    return CallEnded(sid, FINAL_STATUSES[status], 0.0, reason)


def keypress(form: Form, gateway: str) -> Keypress:
    return Keypress(required(form, "CallSid"), required(form, "To"), required(form, "From"),
                    form.get("Digits", ""), gateway)


def _duration(form: Form) -> float:
    try:
        seconds = float(form.get("CallDuration", "0") or 0)
    except ValueError:
        raise CallbackError("CallDuration is not a number") from None
    if not math.isfinite(seconds):  # "inf" would stay in the duration histogram's sum
        raise CallbackError("CallDuration is not a number")
    return max(0.0, seconds)


def _error_text(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "error"
    code = payload.get("code")
    message = masked(str(payload.get("message", "error"))[:200])
    return f"{message} (code {str(code)[:12]})" if code is not None else message
