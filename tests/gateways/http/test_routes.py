"""The daemon's inbound port: /healthz, then the HTTP gateways' callbacks, which hand what
they read to the daemon's Inbound and count what they could not record."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dispatch.daemon.inbound.routes import inbound_handler
from dispatch.gateways.http.callbacks import HttpCallbacks
from dispatch.httpserver import Request, Response
from dispatch.vocabulary import InboundMessage, Receipt, StateCode


class FakeInbound:
    """An Inbound that keeps what it is handed."""

    def __init__(self) -> None:
        self.receipts_seen: list[tuple[Receipt, bool]] = []
        self.messages_seen: list[InboundMessage] = []
        self.passed_over: dict[str, int] = {}

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        self.receipts_seen += [(receipt, join_others) for receipt in receipts]

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        self.messages_seen += messages

    def not_recorded(self, kind: str, count: int = 1) -> None:
        self.passed_over[kind] = self.passed_over.get(kind, 0) + count


def post(path: str, payload: object, method: str = "POST") -> Request:
    return Request(method, path, "", {}, json.dumps(payload).encode())


async def call(inbound: FakeInbound, request: Request) -> tuple[int, object]:
    response: Response = await inbound_handler(HttpCallbacks(inbound).routes())(request)
    return response.status, json.loads(response.body)


async def test_receipts_join_others_and_intermediate_ones_are_counted() -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, post("/receipts", [
        {"id": "a", "status": "delivered"}, {"id": "b", "status": "enroute"}]))
    assert (status, body) == (200, {"recorded": 1, "ignored": 1})
    assert inbound.receipts_seen == [
        (Receipt("a", StateCode.DELIVERED, "receipt delivered, error "), True)]
    assert inbound.passed_over == {"intermediate": 1}


async def test_an_unreadable_receipt_is_refused_and_counted_invalid() -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, post("/receipts", [{"status": "delivered"}]))
    assert status == 400 and "'id' must be a non-empty string" in str(body)
    assert inbound.passed_over == {"invalid": 1} and not inbound.receipts_seen


async def test_replies_are_handed_over_labelled_as_the_shared_route() -> None:
    inbound = FakeInbound()
    status, body = await call(inbound, post("/inbound", {"from": "+33612345678",
                                                         "to": "36111", "text": "STOP"}))
    assert (status, body) == (200, {"recorded": 1})
    assert inbound.messages_seen == [InboundMessage("+33612345678", "36111", "STOP", "http")]


async def test_health_unknown_paths_and_methods() -> None:
    inbound = FakeInbound()
    assert await call(inbound, post("/healthz", None, "GET")) == (200, {"ok": True})
    assert await call(inbound, post("/receipts", [], "GET")) == (405, {"error": "use POST"})
    assert await call(inbound, post("/nope", [])) == (
        404, {"error": "not found; use POST /receipts or POST /inbound"})
    response = await inbound_handler({})(post("/receipts", []))
    assert response.status == 404  # a daemon without HTTP gateways serves no callbacks
