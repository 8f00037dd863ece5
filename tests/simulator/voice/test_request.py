"""The Calls API's checks: the path, the credentials, the form and the script — pure."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from dispatch.simulator.voice.request import (
    ANSWERED,
    COMPLETED,
    INITIATED,
    MACHINE_DETECTION,
    RINGING,
    Refusal,
    account_of,
    check_credentials,
    parse_call,
)
from dispatch.simulator.voice.twiml import InvalidTwiml, gather_action

SCRIPT = ('<Response><Gather numDigits="1" action="http://cb/voice/gather" method="POST" '
          'timeout="5"><Say language="fr-FR">Tapez 9</Say><Play>http://a/b.mp3</Play>'
          '</Gather></Response>')


def form(*extra: tuple[str, str], **fields: str) -> bytes:
    base = {"To": "+33612345678", "From": "+33100000001", "Twiml": SCRIPT}
    base.update(fields)
    return urlencode([*base.items(), *extra]).encode()


def basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def refusal(body: bytes) -> tuple[int, int, str]:
    with pytest.raises(Refusal) as caught:
        parse_call(body)
    return caught.value.status, caught.value.code, caught.value.message


def test_the_account_comes_from_the_calls_path() -> None:
    assert account_of("/2010-04-01/Accounts/AC123/Calls.json") == "AC123"
    assert account_of("/2010-04-01/Accounts//Calls.json") is None
    assert account_of("/2010-04-01/Accounts/AC1/x/Calls.json") is None
    assert account_of("/2010-04-01/Accounts/AC1/Messages.json") is None


def test_a_valid_request_keeps_only_what_the_call_needs() -> None:
    call = parse_call(form(("StatusCallbackEvent", "completed"), StatusCallback="http://cb/s",
                           MachineDetection="Enable", Timeout="25"))
    assert (call.to, call.line, call.callback) == ("+33612345678", "+33100000001", "http://cb/s")
    assert call.action == "http://cb/voice/gather"
    assert call.events == COMPLETED | MACHINE_DETECTION
    assert call.timeout_s == 25.0


def test_events_repeated_or_space_separated_and_completed_by_default() -> None:
    call = parse_call(form(("StatusCallbackEvent", "initiated ringing"),
                           ("StatusCallbackEvent", "answered")))
    assert call.events == INITIATED | RINGING | ANSWERED
    assert parse_call(form()).events == COMPLETED


@pytest.mark.parametrize(("fields", "status", "code", "reason"), [
    ({"To": "0612345678"}, 400, 21211, "Invalid 'To' Phone Number"),
    ({"To": "+3361"}, 400, 21211, "Invalid 'To' Phone Number"),
    ({"To": "+0612345678"}, 400, 21211, "Invalid 'To' Phone Number"),
    ({"To": "+1234567890123456"}, 400, 21211, "Invalid 'To' Phone Number"),
    ({"From": ""}, 400, 21213, "'From' is required"),
    ({"Twiml": ""}, 400, 21200, "'Twiml' (or 'Url') is required"),
    ({"Twiml": "<Response><Say>x</Response>"}, 400, 12100, "not well-formed XML"),
    ({"Twiml": "<Hangup/>"}, 400, 12100, "root element must be <Response>"),
    ({"StatusCallback": "ftp://x"}, 400, 21205, "'StatusCallback' must be"),
    ({"StatusCallbackMethod": "GET"}, 400, 21200, "POST only"),
    ({"Timeout": "0"}, 400, 21200, "'Timeout' must be"),
    ({"Timeout": "soon"}, 400, 21200, "'Timeout' must be"),
])
def test_invalid_requests_are_refused_with_their_code(fields: dict[str, str], status: int,
                                                      code: int, reason: str) -> None:
    got_status, got_code, message = refusal(form(**fields))
    assert (got_status, got_code) == (status, code)
    assert reason in message


def test_an_unknown_event_is_refused_naming_it() -> None:
    assert refusal(form(("StatusCallbackEvent", "hangup")))[1:] == (
        21200, "'StatusCallbackEvent': unknown event 'hangup' (known: initiated, ringing, "
               "answered, completed)")


def test_a_url_instead_of_a_script_is_accepted_without_a_gather() -> None:
    call = parse_call(urlencode({"To": "+33612345678", "From": "L1",
                                 "Url": "http://cb/twiml"}).encode())
    assert call.action is None


def test_gather_action_is_found_anywhere_under_response() -> None:
    assert gather_action(SCRIPT) == "http://cb/voice/gather"
    assert gather_action("<Response><Say>Bonjour</Say></Response>") is None
    assert gather_action("<Response><Gather><Say>x</Say></Gather></Response>") is None


@pytest.mark.parametrize(("script", "reason"), [
    ("<Response>" + "<Say>x</Say>" * 400 + "</Response>", "longer than 4000 characters"),
    ('<!DOCTYPE r [<!ENTITY a "aaaa">]><Response/>', "DTD is not allowed"),
    ("not xml", "not well-formed XML"),
    ('<Response><Gather action="/relative"/></Response>', r"absolute http\(s\) URL"),
    ('<Response><Gather action="http://x" method="GET"/></Response>', "POST"),
    ('<Response><Gather action="http://x" numDigits="0"/></Response>', "positive integer"),
    ('<Response><Gather action="http://x" numDigits="²"/></Response>', "positive integer"),
])
def test_scripts_that_cannot_be_run_are_refused(script: str, reason: str) -> None:
    with pytest.raises(InvalidTwiml, match=reason):
        gather_action(script)


def test_credentials_of_a_configured_account() -> None:
    accounts = {"AC1": "secret"}
    check_credentials(accounts, "AC1", basic("AC1", "secret"))
    for url_sid, header in (("AC1", basic("AC1", "wrong")), ("AC1", None),
                            ("AC2", basic("AC2", "secret")), ("AC2", basic("AC1", "secret")),
                            ("AC1", "Bearer x"), ("AC1", "Basic !!notbase64")):
        with pytest.raises(Refusal) as caught:
            check_credentials(accounts, url_sid, header)
        assert (caught.value.status, caught.value.code) == (401, 20003)


def test_without_accounts_any_credentials_pass_but_must_name_the_url_account() -> None:
    check_credentials({}, "AC9", basic("AC9", "anything"))
    check_credentials({}, "AC9", None)
    with pytest.raises(Refusal):
        check_credentials({}, "AC9", basic("AC1", "anything"))
