"""The twilio gateway against a stand-in provider (httpx.MockTransport): what a message's
request holds, how many go out at once, and what each answer and each failure of the
wire becomes, with the auth token in no reason and no log line."""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import parse_qs

import httpx
import pytest
import trio

from dispatch.gateways.twilio.gateway import UNSUBSCRIBED_TEXT, TwilioGateway, check_config
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import (
    Accepted,
    CallEnded,
    InboundMessage,
    Keypress,
    Outbound,
    Receipt,
    Rejected,
    Retry,
    SubmitResult,
)

TOKEN = "s3cret-auth-token"
CONFIG = GatewaySettings(type="twilio", url="https://api.provider.example",
                         account_sid="AC1", auth_token=TOKEN, concurrency=3,
                         sender="+33700000001")
CALLBACK = "http://127.0.0.1:8470/receipts?gateway=sms"
TO = "+33612345678"
MESSAGE = Outbound("c1-ab", TO, "+33700000001", "Votez le 11 avril. STOP au 36111")

Provider = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Recorded:
    """An Inbound that keeps what it is handed."""

    def __init__(self) -> None:
        self.got_receipts: list[Receipt] = []
        self.got_messages: list[InboundMessage] = []
        self.passed_over: list[str] = []

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        self.got_receipts += receipts

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        self.got_messages += messages

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        raise AssertionError("an SMS has no call")

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        raise AssertionError("an SMS has no keypress")

    def not_recorded(self, kind: str, count: int = 1) -> None:
        self.passed_over += [kind] * count


class Accepting:
    """A provider creating every message: a sid each, and the requests kept."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.delay_s = delay_s
        self.in_flight = self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        number = len(self.requests)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await trio.sleep(self.delay_s)
        self.in_flight -= 1
        return httpx.Response(201, json={"sid": f"SM{number:032x}",
                                         "status": "queued"})


def answering(status: int, payload: object, headers: dict[str, str] | None = None
              ) -> Provider:
    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=payload, headers=headers)
    return answer


def failing(exc: Exception) -> Provider:
    async def fail(request: httpx.Request) -> httpx.Response:
        raise exc
    return fail


def gateway(provider: Provider, config: GatewaySettings = CONFIG) -> TwilioGateway:
    return TwilioGateway("sms", config, CALLBACK, transport=httpx.MockTransport(provider))


def form_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


async def submit(sms: TwilioGateway, messages: Sequence[Outbound]) -> list[SubmitResult]:
    with trio.fail_after(10):
        results = await sms.submit(messages)
    await sms.aclose()
    return results


async def test_a_message_is_one_form_post_with_basic_auth_its_from_and_status_callback(
        ) -> None:
    provider = Accepting()
    results = await submit(gateway(provider), [MESSAGE])
    assert results == [Accepted(f"SM{1:032x}")]
    [request] = provider.requests
    assert request.method == "POST"
    assert request.url == "https://api.provider.example/2010-04-01/Accounts/AC1/Messages.json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"AC1:{TOKEN}".encode()).decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "To": [TO], "From": ["+33700000001"], "Body": ["Votez le 11 avril. STOP au 36111"],
        "StatusCallback": ["http://127.0.0.1:8470/twilio/sms/status?gateway=sms"]}


async def test_a_messaging_service_replaces_the_from_and_an_answer_asks_no_status() -> None:
    provider = Accepting()
    config = dataclasses.replace(CONFIG, messaging_service_sid="MG" + "0" * 32)
    answer = MESSAGE._replace(receipt=False)
    await submit(gateway(provider, config), [answer])
    assert form_of(provider.requests[0]) == {
        "To": [TO], "Body": ["Votez le 11 avril. STOP au 36111"],
        "MessagingServiceSid": ["MG" + "0" * 32]}


async def test_a_gateway_without_an_inbound_port_asks_no_status_callback() -> None:
    provider = Accepting()
    sms = TwilioGateway("sms", CONFIG, "", transport=httpx.MockTransport(provider))
    await submit(sms, [MESSAGE])
    assert "StatusCallback" not in form_of(provider.requests[0])


async def test_a_batch_goes_out_one_request_each_at_most_concurrency_at_once() -> None:
    provider = Accepting(delay_s=0.01)
    batch = [MESSAGE._replace(reference=f"c1-{i}", to=f"+336123456{i:02d}")
             for i in range(10)]
    results = await submit(gateway(provider), batch)
    assert len(provider.requests) == 10 and provider.most_in_flight == CONFIG.concurrency
    # In order: each result is its own message's sid.
    sids = {form_of(r)["To"][0]: i + 1 for i, r in enumerate(provider.requests)}
    assert results == [Accepted(f"SM{sids[m.to]:032x}") for m in batch]


@pytest.mark.parametrize(("exc", "expected", "code"), [
    (httpx.ConnectError("refused"), Retry("provider unreachable: ConnectError",
                                          counts=False), "connection_refused"),
    (httpx.PoolTimeout("pool"), Retry("provider unreachable: PoolTimeout", counts=False),
     "timeout"),
    (httpx.ReadTimeout("slow"), Retry("no answer from the provider in time: fate unknown"),
     "timeout"),
    (httpx.RemoteProtocolError("cut"),
     Retry("connection lost before the answer (RemoteProtocolError): fate unknown"),
     "disconnected"),
])
async def test_a_request_that_never_went_waits_and_one_with_its_fate_unknown_counts(
        exc: Exception, expected: Retry, code: str) -> None:
    sms = gateway(failing(exc))
    assert await submit(sms, [MESSAGE]) == [expected]
    assert sms.errors.counts == {code: 1}
    assert sms.health().failed


async def test_an_answer_without_a_sid_is_retried_and_counted_invalid() -> None:
    sms = gateway(answering(201, {"status": "queued"}))
    [result] = await submit(sms, [MESSAGE])
    assert isinstance(result, Retry) and result.counts
    assert sms.errors.counts == {"invalid_answer": 1}


async def test_a_throttled_answer_waits_as_the_provider_says_without_an_attempt() -> None:
    sms = gateway(answering(429, {"code": 20429, "message": "Too Many Requests"},
                            {"Retry-After": "3"}))
    [result] = await submit(sms, [MESSAGE])
    assert result == Retry("twilio error 20429: Too Many Requests", 3.0, counts=False)
    assert isinstance(result, Retry) and result.throttled
    assert sms.errors.counts == {"twilio_20429": 1} and not sms.health().failed


async def test_refused_credentials_hold_messages_report_the_gateway_down_and_log_once(
        caplog: pytest.LogCaptureFixture) -> None:
    sms = gateway(answering(401, {"code": 20003, "message": "Authenticate"}))
    with caplog.at_level(logging.ERROR):
        results = await submit(sms, [MESSAGE, MESSAGE._replace(reference="c1-2")])
    assert results == [Retry("twilio error 20003: Authenticate", 30.0, counts=False)] * 2
    health = sms.health()
    assert (health.up, health.state) == (False, "refused")
    assert health.last_error == "the provider refused the account's settings (HTTP 401)"
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert line == ("gateway sms: the provider refused the account's settings (HTTP 401): "
                    "check url, account_sid and auth_token; messages wait")
    assert sms.errors.counts == {"twilio_20003": 2}


async def test_an_answer_after_a_refusal_reports_the_gateway_up_again() -> None:
    answers = iter([httpx.Response(401, json={"code": 20003, "message": "Authenticate"}),
                    httpx.Response(201, json={"sid": "SM1"})])

    async def provider(request: httpx.Request) -> httpx.Response:
        return next(answers)

    sms = gateway(provider)
    await sms.submit([MESSAGE])
    assert sms.health().failed
    await submit(sms, [MESSAGE])
    assert (sms.health().up, sms.health().state) == (True, "reachable")


async def test_an_unsubscribed_recipient_is_rejected_and_opted_out_of_the_line() -> None:
    inbound = Recorded()
    sms = gateway(answering(400, {"code": 21610, "message": "Attempt to send to "
                                  "unsubscribed recipient"}))
    sms.callbacks(inbound)
    answer = MESSAGE._replace(reference="answer-1", receipt=False)
    results = await submit(sms, [MESSAGE, answer])
    assert results == [Rejected("twilio error 21610: Attempt to send to unsubscribed "
                                "recipient")] * 2
    # One opt-out, for the campaign's message: an answer refused hands none over (the
    # confirmation of that very opt-out would loop otherwise).
    assert inbound.got_messages == [InboundMessage(TO, "+33700000001", UNSUBSCRIBED_TEXT,
                                                   "sms")]
    assert sms.errors.counts == {"twilio_21610": 2}


async def test_the_auth_token_is_in_no_reason_and_no_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    reasons: list[str] = []
    providers = [answering(401, {"code": 20003, "message": "Authenticate"}),
                 answering(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
                 answering(503, None), failing(httpx.ConnectError(f"url {CALLBACK}")),
                 failing(httpx.ReadTimeout("slow"))]
    with caplog.at_level(logging.DEBUG):
        for provider in providers:
            sms = gateway(provider)
            for result in await submit(sms, [MESSAGE]):
                assert not isinstance(result, Accepted)
                reasons.append(result.reason)
            reasons.append(str(sms.health().last_error))
    assert all(TOKEN not in reason for reason in reasons)
    assert TOKEN not in caplog.text
    assert TO not in " ".join(reasons)


def test_a_gateway_without_its_account_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^gateways\.sms\.account_sid: required for a "
                                          r"twilio gateway$"):
        check_config("sms", GatewaySettings(type="twilio", auth_token="x"))
    with pytest.raises(ConfigError, match=r"^gateways\.sms\.auth_token: required"):
        check_config("sms", GatewaySettings(type="twilio", account_sid="AC1"))
