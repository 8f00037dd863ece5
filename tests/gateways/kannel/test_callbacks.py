"""What Kannel calls back with GET on the daemon's inbound port: delivery reports and MO
read into the vocabulary, bad calls refused with a 400 and counted, GET taken on these
routes only, and the token checked before anything is read."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from prometheus_client import CollectorRegistry, Counter

from dispatch.daemon.inbound.auth import InboundAuth, TokenVerifier, authenticated
from dispatch.daemon.inbound.routes import gateway_get_paths, inbound_handler
from dispatch.gateways.base import INVALID_REPLY
from dispatch.gateways.http.callbacks import HttpCallbacks
from dispatch.gateways.kannel import TOKEN_PARAM
from dispatch.gateways.kannel.callbacks import DLR_PATH, MO_PATH, KannelCallbacks, summary
from dispatch.httpserver import Handler, Request
from dispatch.vocabulary import InboundMessage, Receipt, StateCode
from tests.gateways.http.test_routes import FakeInbound

RECEIPT_TEXT = ("id:a9c656f10000000001 sub:001 dlvrd:000 submit date:2612070523 done "
                "date:2612070523 stat:UNDELIV err:001 text:Bonjour Marie, votre")


def get(path: str, query: str, method: str = "GET") -> Request:
    return Request(method, path, query, {}, b"")


def handler(inbound: FakeInbound) -> Handler:
    routes = {**KannelCallbacks(inbound, "k1").routes(), **HttpCallbacks(inbound).routes()}
    return inbound_handler(routes, get_paths=frozenset({DLR_PATH, MO_PATH}))


async def call(inbound: FakeInbound, request: Request) -> tuple[int, bytes]:
    response = await handler(inbound)(request)
    return response.status, response.body


async def test_final_reports_become_receipts_joined_with_others() -> None:
    inbound = FakeInbound()
    assert await call(inbound, get(DLR_PATH, "gateway=k1&id=kab&type=1&answer=")) == (
        200, b"recorded")
    answer = quote_from_bytes(RECEIPT_TEXT.encode())
    await call(inbound, get(DLR_PATH, f"id=kcd&type=2&answer={answer}"))
    await call(inbound, get(DLR_PATH, "id=kef&type=16&answer=NACK%2F0x0000000b%2FInvalid"
                                      "+Destination+Address"))
    assert inbound.receipts_seen == [
        (Receipt("kab", StateCode.DELIVERED, "kannel 1: no answer"), True),
        (Receipt("kcd", StateCode.FAILED, "kannel 2: stat:UNDELIV err:001"), True),
        (Receipt("kef", StateCode.FAILED,
                 "kannel 16: NACK/0x0000000b/Invalid Destination Address"), True)]


def test_a_reason_never_holds_the_receipts_copy_of_the_text() -> None:
    assert "Marie" not in summary(RECEIPT_TEXT)
    assert summary("x" * 500) == "x" * 80


async def test_intermediate_reports_are_counted_only() -> None:
    inbound = FakeInbound()
    assert await call(inbound, get(DLR_PATH, "id=kab&type=8&answer=ACK%2F")) == (
        200, b"ignored: not final")
    await call(inbound, get(DLR_PATH, "id=kab&type=4"))
    assert inbound.passed_over == {"intermediate": 2} and not inbound.receipts_seen


@pytest.mark.parametrize(("query", "error"), [
    ("type=1", b"'id' must be the message's id"),
    ("id=kab", b"'type' must be Kannel's report type"),
    ("id=kab&type=%d", b"'type' must be Kannel's report type"),
    ("id=kab&type=32", b"unknown report type 32"),
    ("id=k%00b&type=1", b"'id' holds a NUL character"),
])
async def test_an_unreadable_report_gets_400_and_is_counted(query: str, error: bytes) -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, get(DLR_PATH, query))
    assert status == 400 and error in body
    assert inbound.passed_over == {"invalid": 1} and not inbound.receipts_seen


async def test_an_mo_in_utf8_or_utf16_reaches_the_replies() -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, get(
        MO_PATH, "gateway=k2&from=%2B33612345678&to=36111&text=Arr%C3%AAt+svp&charset=UTF-8"))
    assert (status, body) == (200, b"")  # an empty answer: Kannel sends no SMS back
    utf16 = quote_from_bytes("STOP Привет".encode("utf-16-be"))
    await call(inbound, get(MO_PATH, f"from=0612345678&to=36111&text={utf16}"
                                     "&charset=UTF-16BE"))
    assert inbound.messages_seen == [
        InboundMessage("+33612345678", "36111", "Arrêt svp", "k2"),
        InboundMessage("0612345678", "36111", "STOP Привет", "k1")]


@pytest.mark.parametrize(("query", "error"), [
    ("to=36111&text=STOP", b"'from' (%p) and 'to' (%P) are required"),
    ("from=0612345678&to=36111", b"'text' (%b) is required"),
    ("from=0612345678&to=36111&text=STOP&charset=hex", b"unknown charset 'hex'"),
    ("from=0612345678&to=36111&text=ST%00OP", b"'text' holds a NUL character"),
])
async def test_an_unreadable_mo_gets_400_and_is_counted(query: str, error: bytes) -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, get(MO_PATH, query))
    assert status == 400 and error in body
    assert inbound.passed_over == {INVALID_REPLY: 1} and not inbound.messages_seen


async def test_get_is_taken_on_kannels_routes_only() -> None:
    inbound = FakeInbound()
    assert await call(inbound, get(DLR_PATH, "id=kab&type=1", "POST")) == (
        405, b'{"error":"use GET"}')
    assert await call(inbound, get("/receipts", "", "GET")) == (405, b'{"error":"use POST"}')
    status, body = await call(inbound, get("/nope", ""))
    assert status == 404 and b"GET /kannel/dlr or GET /kannel/mo or POST /receipts" in body


def test_the_get_paths_are_those_a_kind_declares() -> None:
    class Gateway:
        def __init__(self, routes: dict[str, Handler]) -> None:
            self.routes = routes

        def callbacks(self, inbound: object) -> dict[str, Handler]:
            return self.routes

    inbound = FakeInbound()
    gateways = [Gateway(KannelCallbacks(inbound, "k").routes()),
                Gateway(HttpCallbacks(inbound).routes())]
    assert gateway_get_paths(gateways, inbound) == {DLR_PATH, MO_PATH}  # type: ignore[arg-type]


def test_the_token_verifier() -> None:
    verify = TokenVerifier("tok-1", TOKEN_PARAM)
    assert verify(get(DLR_PATH, "gateway=k1&token=tok-1"), 0.0) is None
    assert verify(get(DLR_PATH, "gateway=k1"), 0.0) == "no_token"
    assert verify(get(DLR_PATH, "gateway=k1&token=tok-2"), 0.0) == "bad_token"
    assert TokenVerifier("", TOKEN_PARAM)(get(DLR_PATH, "token="), 0.0) == "no_secret"


async def test_a_call_without_the_token_is_refused_before_it_is_read() -> None:
    inbound = FakeInbound()
    rejected = Counter("rejected", "r", ["gateway", "reason"], registry=CollectorRegistry())
    auth = InboundAuth({"k1": TokenVerifier("tok-1", TOKEN_PARAM)},
                       {"k1": frozenset({DLR_PATH, MO_PATH})}, rejected)
    routes = authenticated(KannelCallbacks(inbound, "k1").routes(), auth)
    handle = inbound_handler(routes, get_paths=frozenset({DLR_PATH, MO_PATH}))
    refused = await handle(get(DLR_PATH, "gateway=k1&token=guess&id=kab&type=2"))
    taken = await handle(get(DLR_PATH, "gateway=k1&token=tok-1&id=kab&type=1"))
    assert (refused.status, taken.status) == (401, 200)
    assert [r for r, _ in inbound.receipts_seen] == [Receipt("kab", StateCode.DELIVERED,
                                                             "kannel 1: no answer")]
    assert rejected.labels("k1", "bad_token")._value.get() == 1
