"""The voice gateway's reading of the provider: placements, status and keypress callbacks,
and the call script it writes — pure."""

from __future__ import annotations

import pytest

from dispatch.gateways.voice.calls import CallbackError, call_ended, keypress, placement_result
from dispatch.gateways.voice.twiml import ScriptTooLong, call_twiml, keypress_twiml
from dispatch.vocabulary import (
    Accepted,
    CallEnded,
    CallOutcome,
    CallScript,
    Keypress,
    Rejected,
    Retry,
)


@pytest.mark.parametrize(("status", "payload", "expected"), [
    (201, {"sid": "CA1", "status": "queued"}, Accepted("CA1")),
    (200, {"sid": "CA1"}, Accepted("CA1")),  # an Idempotency-Key replayed
    (201, {"status": "queued"}, Retry("placed without a call id: fate unknown")),
    (400, {"code": 21211, "message": "Invalid 'To' Phone Number +33612345678"},
     Rejected("HTTP 400: Invalid 'To' Phone Number … (code 21211)")),
    (429, {"code": 20429, "message": "Too Many Requests"},
     Retry("HTTP 429: Too Many Requests (code 20429)", 2.0, counts=False)),
    (409, {"code": 20409, "message": "line busy"},
     Retry("HTTP 409: line busy (code 20409)", 2.0, counts=False)),
    (401, {"code": 20003, "message": "Authenticate"},
     Retry("HTTP 401: Authenticate (code 20003)", 30.0, counts=False)),
    (503, "not json", Retry("HTTP 503: error", 2.0)),
])
def test_placement_answers_become_results(status: int, payload: object,
                                          expected: object) -> None:
    assert placement_result(status, payload, 2.0) == expected


def test_a_throttled_placement_is_counted_as_throttled() -> None:
    result = placement_result(429, {}, None)
    assert isinstance(result, Retry) and result.throttled


@pytest.mark.parametrize(("form", "expected"), [
    ({"CallSid": "CA1", "CallStatus": "completed", "AnsweredBy": "human",
      "CallDuration": "31"}, CallEnded("CA1", CallOutcome.HUMAN, 31.0, "answered by a person")),
    ({"CallSid": "CA1", "CallStatus": "completed", "AnsweredBy": "machine_end_beep",
      "CallDuration": "12"},
     CallEnded("CA1", CallOutcome.MACHINE, 12.0, "answered by a machine")),
    ({"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "5"},
     CallEnded("CA1", CallOutcome.HUMAN, 5.0, "answered by a person")),  # no detection
    ({"CallSid": "CA1", "CallStatus": "busy"}, CallEnded("CA1", CallOutcome.BUSY, 0.0, "busy")),
    ({"CallSid": "CA1", "CallStatus": "no-answer"},
     CallEnded("CA1", CallOutcome.NO_ANSWER, 0.0, "no-answer")),
    ({"CallSid": "CA1", "CallStatus": "failed", "SipResponseCode": "404"},
     CallEnded("CA1", CallOutcome.FAILED, 0.0, "failed (SIP 404)")),
    ({"CallSid": "CA1", "CallStatus": "canceled"},
     CallEnded("CA1", CallOutcome.UNKNOWN, 0.0, "canceled")),
    ({"CallSid": "CA1", "CallStatus": "ringing"}, None),
])
def test_status_callbacks_become_call_ends(form: dict[str, str],
                                           expected: CallEnded | None) -> None:
    assert call_ended(form) == expected


@pytest.mark.parametrize(("form", "message"), [
    ({"CallStatus": "completed"}, "no CallSid"),
    ({"CallSid": "CA1", "CallStatus": "teleported"}, "unknown CallStatus"),
    ({"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "long"}, "not a number"),
])
def test_bad_status_callbacks_are_named(form: dict[str, str], message: str) -> None:
    with pytest.raises(CallbackError, match=message):
        call_ended(form)


def test_a_keypress_names_the_recipient_and_the_line() -> None:
    form = {"CallSid": "CA1", "Digits": "9", "To": "+33612345678", "From": "+33900000001"}
    assert keypress(form, "calls") == Keypress("CA1", "+33612345678", "+33900000001", "9",
                                               "calls")


def test_the_script_reads_the_preamble_first_inside_the_gather_and_escapes_texts() -> None:
    twiml = call_twiml(CallScript("Parti <X> & co : tapez 9.", say="Votez \"oui\"."),
                       "https://d.example/voice/gather?a=1&b=2")
    assert twiml == (
        '<Response><Gather numDigits="1" action="https://d.example/voice/gather?a=1&amp;b=2" '
        'method="POST" timeout="5"><Say language="fr-FR">Parti &lt;X&gt; &amp; co : tapez 9.'
        '</Say><Say language="fr-FR">Votez "oui".</Say></Gather></Response>')
    recorded = call_twiml(CallScript("Tapez 9.", audio_url="https://a.example/m.mp3"), "u")
    assert "<Play>https://a.example/m.mp3</Play></Gather>" in recorded


def test_a_script_too_long_for_one_request_is_refused() -> None:
    with pytest.raises(ScriptTooLong, match="more than 4000"):
        call_twiml(CallScript("Tapez 9.", say="mot " * 1200), "u")


def test_a_9_is_confirmed_then_the_call_ends() -> None:
    assert "<Hangup/>" in keypress_twiml("9") and "ne serez plus" in keypress_twiml("9")
    assert keypress_twiml("1") == "<Response><Hangup/></Response>"
