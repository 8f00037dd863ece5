"""The Messages API's answers, read into results — pure."""

from __future__ import annotations

import pytest

from dispatch.gateways.twilio.answers import error_label, submission_result
from dispatch.vocabulary import Accepted, Rejected, Retry


def error(code: int, message: str) -> dict[str, object]:
    return {"code": code, "message": message, "more_info": f"https://e.x/{code}",
            "status": 400}


@pytest.mark.parametrize(("status", "payload", "expected"), [
    (201, {"sid": "SM1", "status": "queued"}, Accepted("SM1")),
    (200, {"sid": "SM1"}, Accepted("SM1")),
    (201, {"status": "queued"}, Retry("HTTP 201 without a message sid: fate unknown")),
    (201, "not json", Retry("HTTP 201 without a message sid: fate unknown")),
    (400, error(21211, "The 'To' number +33612345678 is not a valid phone number."),
     Rejected("twilio error 21211: The 'To' number … is not a valid phone number.")),
    (400, error(21408, "Permission to send an SMS has not been enabled for the region"),
     Rejected("twilio error 21408: Permission to send an SMS has not been enabled for the "
              "region")),
    (400, error(21610, "Attempt to send to unsubscribed recipient"),
     Rejected("twilio error 21610: Attempt to send to unsubscribed recipient")),
    (400, "not json", Rejected("HTTP 400")),
    (429, error(20429, "Too Many Requests"),
     Retry("twilio error 20429: Too Many Requests", 2.0, counts=False)),
    (400, error(21611, "This 'From' number has exceeded the maximum number of queued "
                       "messages"),
     Retry("twilio error 21611: This 'From' number has exceeded the maximum number of "
           "queued messages", 2.0, counts=False)),
    (401, error(20003, "Authenticate"),
     Retry("twilio error 20003: Authenticate", 30.0, counts=False)),
    (404, error(20404, "The requested resource was not found"),
     Retry("twilio error 20404: The requested resource was not found", 30.0, counts=False)),
    (503, "not json", Retry("HTTP 503", 2.0)),
    (500, error(20500, "Internal Server Error"),
     Retry("twilio error 20500: Internal Server Error", 2.0)),
])
def test_answers_become_results(status: int, payload: object, expected: object) -> None:
    assert submission_result(status, payload, 2.0) == expected


def test_a_throttled_answer_is_marked_throttled_for_the_metrics() -> None:
    result = submission_result(429, error(20429, "Too Many Requests"), None)
    assert isinstance(result, Retry) and result.throttled and result.after_s is None


@pytest.mark.parametrize(("status", "payload", "label"), [
    (400, error(21610, "x"), "twilio_21610"),
    (429, error(20429, "x"), "twilio_20429"),
    (400, error(99999, "a code nobody listed"), "400"),  # the labels stay a closed set
    (502, None, "502"),
])
def test_errors_are_counted_by_known_code_else_by_status(status: int, payload: object,
                                                        label: str) -> None:
    assert error_label(status, payload) == label


@pytest.mark.parametrize(("status", "payload", "unsent"), [
    (429, error(20429, "Too Many Requests"), True),
    (401, error(20003, "Authenticate"), True),
    (503, "not json", False),  # Twilio may have queued it: fate unknown
    (201, {"status": "queued"}, False),
])
def test_a_retry_says_whether_twilio_surely_did_not_take_the_message(
        status: int, payload: object, unsent: bool) -> None:
    """What a route may send through another gateway (Retry.unsent)."""
    result = submission_result(status, payload, 2.0)
    assert isinstance(result, Retry) and result.unsent is unsent
