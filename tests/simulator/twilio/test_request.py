"""The Messages API's form, checked with the provider's error codes — pure."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from dispatch.simulator.accounts import Refusal
from dispatch.simulator.twilio.request import MessageRequest, body_digest, parse_message

SERVICE = "MG" + "a" * 32


def parse(**fields: str) -> MessageRequest:
    return parse_message(urlencode(fields).encode())


def test_a_message_keeps_its_numbers_line_callback_and_a_digest_of_its_text() -> None:
    message = parse(To="+33612345678", From="+33700000001", Body="Votez",
                    StatusCallback="http://127.0.0.1:1/twilio/sms/status?gateway=sms")
    assert message == MessageRequest("+33612345678", "+33700000001", False,
                                     "http://127.0.0.1:1/twilio/sms/status?gateway=sms",
                                     body_digest("Votez"))


@pytest.mark.parametrize("sender", ["+33700000001", "36111", "DISPATCH", "Liste Y"])
def test_a_from_is_a_number_a_short_code_or_an_alphanumeric_name(sender: str) -> None:
    assert parse(To="+33612345678", From=sender, Body="x").sender == sender


def test_a_messaging_service_is_the_line_when_given() -> None:
    message = parse(To="+33612345678", MessagingServiceSid=SERVICE, Body="x")
    assert (message.sender, message.service) == (SERVICE, True)


@pytest.mark.parametrize(("fields", "code"), [
    ({"From": "X1", "Body": "x"}, 21604),
    ({"To": "0612345678", "From": "X1", "Body": "x"}, 21211),
    ({"To": "+33612345678", "Body": "x"}, 21603),
    ({"To": "+33612345678", "From": "TWELVE CHARS", "Body": "x"}, 21212),
    ({"To": "+33612345678", "From": "+0612", "Body": "x"}, 21212),
    ({"To": "+33612345678", "MessagingServiceSid": "MG1", "Body": "x"}, 21705),
    ({"To": "+33612345678", "From": "X1"}, 21602),
    ({"To": "+33612345678", "From": "X1", "Body": "x" * 1601}, 21617),
    ({"To": "+33612345678", "From": "X1", "Body": "x", "StatusCallback": "ftp://x"},
     21609),
])
def test_a_bad_form_is_refused_with_the_provider_s_code(fields: dict[str, str],
                                                        code: int) -> None:
    with pytest.raises(Refusal) as caught:
        parse(**fields)
    assert (caught.value.status, caught.value.code) == (400, code)
