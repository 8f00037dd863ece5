"""What the provider posts back, through the real route table and the real signature
check (app.inbound_verifier, InboundAuth): each status, a recipient's message, what is
missing, and posts not signed with the auth token over the URL the provider was given."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

import httpx
import pytest
import trio
from prometheus_client import CollectorRegistry, Counter

from dispatch.app import inbound_verifier
from dispatch.daemon.inbound.auth import InboundAuth, authenticated
from dispatch.daemon.inbound.routes import inbound_handler
from dispatch.gateways.base import INVALID_REPLY
from dispatch.gateways.twilio.callbacks import EMPTY_TWIML
from dispatch.gateways.twilio.gateway import TwilioGateway
from dispatch.httpserver import Handler, Request, Response
from dispatch.settings import GatewaySettings
from dispatch.signing import twilio_signature
from dispatch.vocabulary import InboundMessage, Receipt, StateCode
from tests.gateways.twilio.test_gateway import (
    CALLBACK,
    CONFIG,
    MESSAGE,
    TOKEN,
    Accepting,
    Recorded,
    form_of,
    gateway,
)

STATUS = "/twilio/sms/status"
INBOUND = "/twilio/sms/inbound"
SERVICE = "MG" + "1" * 32


def handler(inbound: Recorded, config: GatewaySettings = CONFIG, callback: str = CALLBACK
            ) -> Handler:
    """The inbound port's handler for one twilio gateway, every post checked first."""
    routes = gateway(Accepting(), config).callbacks(inbound)
    rejected = Counter("rejected", "refused posts", ["gateway", "reason"],
                       registry=CollectorRegistry())
    auth = InboundAuth({"sms": inbound_verifier("sms", config, callback)},
                       {"sms": frozenset(routes)}, rejected)
    return inbound_handler(authenticated(routes, auth))


def post(path: str, fields: dict[str, str], *, token: str | None = TOKEN,
         signed_url: str | None = None, query: str = "gateway=sms") -> Request:
    """A form POST as the provider sends it, signed with `token` over `signed_url` (by
    default the URL it was given: the daemon's, this path, this query)."""
    url = signed_url or f"http://127.0.0.1:8470{path}" + (f"?{query}" if query else "")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if token is not None:
        headers["x-twilio-signature"] = twilio_signature(token, url, fields.items())
    return Request("POST", path, query, headers, urlencode(fields).encode())


def status(message_status: str, **more: str) -> dict[str, str]:
    return {"MessageSid": "SM1", "MessageStatus": message_status, "AccountSid": "AC1",
            "From": "+33700000001", "To": "+33612345678", "ApiVersion": "2010-04-01",
            **more}


def error_of(response: Response) -> str:
    error: str = json.loads(response.body)["error"]
    return error


@pytest.mark.parametrize(("fields", "receipt"), [
    (status("delivered"), Receipt("SM1", StateCode.DELIVERED, "twilio delivered")),
    (status("undelivered", ErrorCode="30003"),
     Receipt("SM1", StateCode.FAILED, "twilio undelivered, error 30003")),
    (status("failed", ErrorCode="30007"),
     Receipt("SM1", StateCode.FAILED, "twilio failed, error 30007")),
    (status("canceled"), Receipt("SM1", StateCode.FAILED, "twilio canceled, error none")),
    ({"SmsSid": "SM1", "SmsStatus": "Delivered"},  # the older names, any case
     Receipt("SM1", StateCode.DELIVERED, "twilio delivered")),
])
async def test_a_final_status_is_recorded_as_the_message_s_receipt(
        fields: dict[str, str], receipt: Receipt) -> None:
    inbound = Recorded()
    response = await handler(inbound)(post(STATUS, fields))
    assert (response.status, response.body) == (200, b"")
    assert inbound.got_receipts == [receipt] and inbound.passed_over == []


@pytest.mark.parametrize("message_status", [
    "queued", "accepted", "scheduled", "sending", "sent", "receiving", "received", "read"])
async def test_an_intermediate_status_is_acknowledged_and_only_counted(
        message_status: str) -> None:
    inbound = Recorded()
    response = await handler(inbound)(post(STATUS, status(message_status)))
    assert response.status == 200
    assert inbound.got_receipts == [] and inbound.passed_over == ["intermediate"]


@pytest.mark.parametrize(("fields", "error"), [
    ({"MessageStatus": "delivered"}, "no MessageSid"),
    ({"MessageSid": "SM1"}, "no MessageStatus"),
    (status("vanished"), "unknown MessageStatus 'vanished'"),
    (status("delivered", AccountSid="AC2"), "AccountSid is not this gateway's account"),
])
async def test_a_status_callback_that_cannot_be_read_gets_400_saying_why(
        fields: dict[str, str], error: str) -> None:
    inbound = Recorded()
    response = await handler(inbound)(post(STATUS, fields))
    assert (response.status, error_of(response)) == (400, error)
    assert inbound.got_receipts == [] and inbound.passed_over == ["invalid"]


def mo(text: str, **more: str) -> dict[str, str]:
    return {"MessageSid": "SM9", "AccountSid": "AC1", "From": "+33612345678",
            "To": "+33700000001", "Body": text, "NumMedia": "0", **more}


async def test_an_inbound_message_is_handed_over_and_answered_with_empty_twiml() -> None:
    inbound = Recorded()
    response = await handler(inbound)(post(INBOUND, mo("STOP")))
    assert (response.status, response.content_type, response.body) == (
        200, "application/xml", EMPTY_TWIML)
    assert inbound.got_messages == [InboundMessage("+33612345678", "+33700000001", "STOP",
                                                   "sms")]


async def test_a_message_to_a_number_of_the_messaging_service_is_on_the_gateway_s_line(
        ) -> None:
    inbound = Recorded()
    config = dataclasses.replace(CONFIG, messaging_service_sid=SERVICE, sender="DISPATCH")
    serving = handler(inbound, config)
    await serving(post(INBOUND, mo("STOP", MessagingServiceSid=SERVICE)))
    await serving(post(INBOUND, mo("STOP", MessagingServiceSid="MG" + "2" * 32)))
    assert [m.destination for m in inbound.got_messages] == ["DISPATCH", "+33700000001"]


async def test_an_inbound_message_without_its_sender_gets_400() -> None:
    inbound = Recorded()
    fields = mo("STOP")
    del fields["From"]
    response = await handler(inbound)(post(INBOUND, fields))
    assert (response.status, error_of(response)) == (400, "no From")
    assert inbound.got_messages == [] and inbound.passed_over == [INVALID_REPLY]


@pytest.mark.parametrize(("path", "request_"), [
    (STATUS, post(STATUS, status("failed"), token=None)),  # unsigned
    (STATUS, post(STATUS, status("failed"), token="another-token")),
    (INBOUND, post(INBOUND, mo("STOP"), token="another-token")),
    # Signed over another URL than the one posted to: a query taken away.
    (INBOUND, post(INBOUND, mo("STOP"),
                   signed_url="http://127.0.0.1:8470/twilio/sms/inbound?gateway=sms",
                   query="")),
])
async def test_a_post_not_signed_by_the_account_is_refused_and_changes_nothing(
        path: str, request_: Request) -> None:
    inbound = Recorded()
    response = await handler(inbound)(request_)
    assert response.status == 401
    assert (inbound.got_receipts, inbound.got_messages) == ([], [])


async def test_behind_a_public_url_the_signature_is_over_the_url_the_provider_was_given(
        ) -> None:
    public = "https://hooks.example/dispatch/receipts?gateway=sms"
    inbound = Recorded()
    provider = Accepting()
    sms = TwilioGateway("sms", CONFIG, public, transport=httpx.MockTransport(provider))
    with trio.fail_after(10):
        await sms.submit([MESSAGE])
    await sms.aclose()
    given = "https://hooks.example/dispatch/twilio/sms/status?gateway=sms"
    assert form_of(provider.requests[0])["StatusCallback"] == [given]
    response = await handler(inbound, callback=public)(
        post(STATUS, status("delivered"), signed_url=given))
    assert response.status == 200 and len(inbound.got_receipts) == 1
