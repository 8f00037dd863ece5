"""The voice gateway against a stand-in provider (httpx.MockTransport): what a placement
sends, and the callbacks it serves on the daemon's inbound port."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from urllib.parse import parse_qs

import httpx
import pytest
import trio

from dispatch.daemon.inbound.routes import inbound_handler
from dispatch.gateways.voice.gateway import VoiceGateway, check_config
from dispatch.httpserver import Request
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.vocabulary import (
    Accepted,
    CallEnded,
    CallOutcome,
    CallScript,
    InboundMessage,
    Keypress,
    Outbound,
    Receipt,
    Rejected,
    Retry,
)

CONFIG = GatewaySettings(type="voice", url="https://voice.example", account_sid="AC1",
                         auth_token="s3cret", concurrency=4, ring_timeout_s=25)
SCRIPT = CallScript("Parti X. Tapez 9 pour ne plus être appelé.", say="Votez.")


class Provider:
    """Answers placements: a sid each, or `status` for every call."""

    def __init__(self, status: int = 201) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 201:
            return httpx.Response(self.status, json={"code": 20429, "message": "slow down"},
                                  headers={"Retry-After": "3"})
        return httpx.Response(201, json={"sid": f"CA{len(self.requests)}", "status": "queued"})


def gateway(provider: Provider) -> VoiceGateway:
    return VoiceGateway("calls", CONFIG, "http://127.0.0.1:8470/receipts",
                        transport=httpx.MockTransport(provider))


async def test_a_placement_sends_the_call_with_its_script_callbacks_and_key() -> None:
    provider = Provider()
    calls = gateway(provider)
    with trio.fail_after(10):
        results = await calls.submit([Outbound("c1-ab/1", "+33612345678", "+33900000001", "",
                                               script=SCRIPT)])
    await calls.aclose()
    assert results == [Accepted("CA1")]
    [request] = provider.requests
    assert request.url.path == "/2010-04-01/Accounts/AC1/Calls.json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        b"AC1:s3cret").decode()
    assert request.headers["idempotency-key"] == "c1-ab/1"
    form = {name: values for name, values in parse_qs(request.content.decode()).items()}
    assert form["To"] == ["+33612345678"] and form["From"] == ["+33900000001"]
    assert form["StatusCallback"] == ["http://127.0.0.1:8470/voice/status"]
    assert form["StatusCallbackEvent"] == ["completed"]
    assert form["MachineDetection"] == ["Enable"] and form["Timeout"] == ["25"]
    assert 'action="http://127.0.0.1:8470/voice/gather"' in form["Twiml"][0]


async def test_a_batch_is_placed_call_by_call_and_each_gets_its_result() -> None:
    provider = Provider()
    calls = gateway(provider)
    batch = [Outbound(f"c1-{i}/1", f"+3361234567{i}", "+33900000001", "", script=SCRIPT)
             for i in range(6)] + [Outbound("sms", "+33612345678", "X", "hello")]
    with trio.fail_after(10):
        results = await calls.submit(batch)
    await calls.aclose()
    assert sorted(r.gateway_id for r in results[:6] if isinstance(r, Accepted)) == [
        f"CA{i}" for i in range(1, 7)]
    assert results[6] == Rejected("not a call: a voice gateway places calls only")


async def test_a_throttled_provider_makes_the_calls_wait_without_using_attempts() -> None:
    calls = gateway(Provider(status=429))
    with trio.fail_after(10):
        [result] = await calls.submit([Outbound("c1-ab/1", "+33612345678", "+33900000001",
                                                "", script=SCRIPT)])
    await calls.aclose()
    assert result == Retry("HTTP 429: slow down (code 20429)", 3.0, counts=False)


def test_a_gateway_without_its_credentials_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"gateways\.calls\.auth_token: required"):
        check_config("calls", GatewaySettings(type="voice", account_sid="AC1"))


class Recorded:
    def __init__(self) -> None:
        self.ended: list[CallEnded] = []
        self.presses: list[Keypress] = []
        self.passed_over: list[str] = []

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        raise AssertionError("a call has no receipt")

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        raise AssertionError("a call has no reply")

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        self.ended += ended

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        self.presses += presses

    def not_recorded(self, kind: str, count: int = 1) -> None:
        self.passed_over += [kind] * count


def form_request(path: str, body: str) -> Request:
    return Request("POST", path, "", {}, body.encode())


async def test_callbacks_hand_over_call_ends_and_keypresses() -> None:
    inbound = Recorded()
    handler = inbound_handler(gateway(Provider()).callbacks(inbound))
    ended = await handler(form_request(
        "/voice/status", "CallSid=CA1&CallStatus=completed&AnsweredBy=human&CallDuration=30"))
    ringing = await handler(form_request("/voice/status", "CallSid=CA1&CallStatus=ringing"))
    bad = await handler(form_request("/voice/status", "CallStatus=busy"))
    pressed = await handler(form_request(
        "/voice/gather", "CallSid=CA1&Digits=9&To=%2B33612345678&From=%2B33900000001"))
    assert (ended.status, ringing.status, bad.status, pressed.status) == (200, 200, 400, 200)
    assert inbound.ended == [CallEnded("CA1", CallOutcome.HUMAN, 30.0, "answered by a person")]
    assert inbound.passed_over == ["intermediate", "invalid"]
    assert json.loads(bad.body) == {"error": "no CallSid"}
    assert inbound.presses == [Keypress("CA1", "+33612345678", "+33900000001", "9", "calls")]
    assert pressed.content_type == "application/xml" and b"<Hangup/>" in pressed.body
