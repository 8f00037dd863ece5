from __future__ import annotations

import json

import httpx
import pytest

from dispatch.gateways.http.gateway import HttpGateway
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry

MESSAGES = [Outbound("ref-1", "+33612345678", "ME", "hello"),
            Outbound("ref-2", "+33612345679", "ME", "hello")]


def gateway(handler: httpx.MockTransport, batch_size: int = 1) -> HttpGateway:
    config = GatewaySettings(url="http://gw.test", batch_size=batch_size)
    return HttpGateway("gw", config, "http://me/receipts", transport=handler)


async def test_single_submission_sends_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "g1", "reference": "ref-1"})

    gw = gateway(httpx.MockTransport(handle))
    assert await gw.submit(MESSAGES[:1]) == [Accepted("g1")]
    assert seen[0].url.path == "/sms"
    assert seen[0].headers["idempotency-key"] == "ref-1"
    body = json.loads(seen[0].content)
    assert body == {"reference": "ref-1", "to": "+33612345678", "from": "ME", "text": "hello",
                    "callback_url": "http://me/receipts"}
    await gw.aclose()


@pytest.mark.parametrize("batch_size", [1, 2])
async def test_messages_asking_no_receipt_go_without_a_callback(batch_size: int) -> None:
    bodies: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "g1", "reference": "ref-1", "results": [
            {"reference": "ref-1", "id": "g1"}, {"reference": "ref-2", "id": "g2"}]})

    gw = gateway(httpx.MockTransport(handle), batch_size)
    answers = [Outbound(m.reference, m.to, m.sender, m.text, receipt=False)
               for m in MESSAGES[:batch_size]]
    await gw.submit(answers)
    assert bodies[0]["callback_url"] is None
    await gw.aclose()


@pytest.mark.parametrize(("status", "kind"), [(429, Retry), (500, Retry), (503, Retry),
                                              (400, Rejected), (422, Rejected)])
async def test_status_codes_map_to_retry_or_reject(status: int, kind: type) -> None:
    gw = gateway(httpx.MockTransport(
        lambda r: httpx.Response(status, json={"error": "nope"}, headers={"Retry-After": "2"})))
    [result] = await gw.submit(MESSAGES[:1])
    assert isinstance(result, kind)
    assert "nope" in result.reason
    if isinstance(result, Retry):
        assert result.after_s == 2.0
    await gw.aclose()


async def test_connection_failure_is_a_retry() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    gw = gateway(httpx.MockTransport(handle))
    assert await gw.submit(MESSAGES) == [Retry("gateway unreachable: ConnectError")] * 2
    await gw.aclose()


@pytest.mark.parametrize(("answer", "unsent"), [
    (httpx.ConnectError("refused"), True), (httpx.ConnectTimeout("slow"), True),
    (httpx.ReadTimeout("no answer"), False), (httpx.ReadError("reset"), False),
    (429, True), (503, True), (500, True), (408, True), (502, False), (504, False)])
async def test_a_retry_says_whether_the_gateway_surely_did_not_take_the_message(
        answer: int | Exception, unsent: bool) -> None:
    """What a route may send through another gateway: never what may have been taken."""
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"error": "nope"})

    gw = gateway(httpx.MockTransport(handle))
    [result] = await gw.submit(MESSAGES[:1])
    assert isinstance(result, Retry) and result.unsent is unsent
    await gw.aclose()


async def test_acceptance_without_an_id_is_not_taken_as_sent() -> None:
    gw = gateway(httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    [result] = await gw.submit(MESSAGES[:1])
    assert isinstance(result, Retry)
    await gw.aclose()


async def test_batch_results_are_matched_in_order() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.path == "/sms/batch"
        assert [m["idempotency_key"] for m in body["messages"]] == ["ref-1", "ref-2"]
        return httpx.Response(200, json={"results": [
            {"reference": "ref-1", "id": "g1"},
            {"reference": "ref-2", "error": "invalid destination", "permanent": True}]})

    gw = gateway(httpx.MockTransport(handle), batch_size=10)
    assert await gw.submit(MESSAGES) == [Accepted("g1"), Rejected("invalid destination")]
    await gw.aclose()


async def test_batch_answer_of_the_wrong_length_retries_everything() -> None:
    gw = gateway(httpx.MockTransport(
        lambda r: httpx.Response(200, json={"results": [{"id": "g1"}]})), batch_size=10)
    results = await gw.submit(MESSAGES)
    assert all(isinstance(r, Retry) for r in results)
    await gw.aclose()
