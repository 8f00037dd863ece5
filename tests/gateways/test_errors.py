"""Errors by code (dispatch_gateway_errors_total{gateway,code}) as each gateway kind counts
them: the HTTP and voice gateways against stand-in providers (httpx.MockTransport), the
SMPP gateway against the test SMSC over real TCP. A success counts nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import trio
import trio.testing

from dispatch.gateways.errors import GatewayErrors, smpp_code, transport_code
from dispatch.gateways.http.gateway import HttpGateway
from dispatch.gateways.voice.gateway import VoiceGateway
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import CallScript, Outbound
from tests.gateways.smpp.helpers import (
    bound,
    outbound,
    running_gateway,
    running_smsc,
    settings,
)
from tests.gateways.smpp.smsc import TestSmsc, reference_of

MESSAGE = Outbound("ref-1", "+33612345678", "ME", "hello")


def test_codes_are_a_small_closed_set() -> None:
    request = httpx.Request("POST", "http://gw.test/sms")
    assert transport_code(httpx.ConnectTimeout("t", request=request)) == "timeout"
    assert transport_code(httpx.ReadTimeout("t", request=request)) == "timeout"
    assert transport_code(trio.TooSlowError()) == "timeout"
    assert transport_code(httpx.ConnectError("refused", request=request)) == \
        "connection_refused"
    assert transport_code(ConnectionRefusedError()) == "connection_refused"
    assert transport_code(OSError(113, "No route to host")) == "connection_refused"
    assert transport_code(httpx.ReadError("reset", request=request)) == "disconnected"
    assert transport_code(httpx.RemoteProtocolError("eof", request=request)) == "disconnected"
    assert transport_code(ConnectionResetError()) == "disconnected"
    assert transport_code(trio.BrokenResourceError()) == "disconnected"
    assert transport_code(httpx.UnsupportedProtocol("x", request=request)) == \
        "transport_error"
    assert smpp_code(0x58) == "ESME_RTHROTTLED"
    assert smpp_code(0x401) == "vendor_0x00000401"
    assert smpp_code(0x123) == "unknown_0x00000123"
    errors = GatewayErrors()
    errors.http_status(503)
    errors.smpp_status(0x58, 3)
    errors.count("timeout")
    assert errors.counts == {"503": 1, "ESME_RTHROTTLED": 3, "timeout": 1}


def scripted(answers: list[httpx.Response | Exception]
             ) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler giving `answers` in order: a response, or an exception
    raised as the transport's failure."""
    def handle(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return handle


async def test_http_errors_are_counted_by_status_and_transport_word() -> None:
    answers: list[httpx.Response | Exception] = []
    handle = scripted(answers)

    config = GatewaySettings(url="http://gw.test", batch_size=1)
    gw = HttpGateway("gw", config, "http://me/receipts", transport=httpx.MockTransport(handle))
    request = httpx.Request("POST", "http://gw.test/sms")
    answers += [httpx.Response(200, json={"id": "g1"}),
                httpx.Response(503, json={"error": "busy"}),
                httpx.Response(429, json={"error": "slow"}),
                httpx.Response(429, json={"error": "slow"}),
                httpx.Response(400, json={"error": "bad number"}),
                httpx.Response(200, json={"reference": "ref-1"}),  # no id
                httpx.ConnectError("refused", request=request),
                httpx.ReadTimeout("slow", request=request),
                httpx.RemoteProtocolError("closed", request=request)]
    for _ in range(len(answers)):
        await gw.submit([MESSAGE])
    assert gw.errors.counts == {"503": 1, "429": 2, "400": 1, "invalid_answer": 1,
                                "connection_refused": 1, "timeout": 1, "disconnected": 1}
    assert gw.health().up is False  # the last request got no answer
    answers.append(httpx.Response(200, json={"id": "g2"}))
    await gw.submit([MESSAGE])
    assert gw.health().up is True
    assert sum(gw.errors.counts.values()) == 8  # the success added nothing
    await gw.aclose()


async def test_http_batch_answers_count_their_own_errors() -> None:
    results = [{"reference": "ref-1", "error": "invalid", "permanent": True},
               {"reference": "ref-2", "id": "g2"},
               {"reference": "ref-3", "error": "busy", "permanent": False}]
    bodies = [httpx.Response(200, json={"results": results}),
              httpx.Response(200, json={"results": results[:1]}),  # the wrong count
              httpx.Response(200, text="not json")]
    config = GatewaySettings(url="http://gw.test", batch_size=3)
    gw = HttpGateway("gw", config, "", transport=httpx.MockTransport(lambda r: bodies.pop(0)))
    messages = [Outbound(f"ref-{i}", "+33612345678", "ME", "hi") for i in (1, 2, 3)]
    for _ in range(3):
        await gw.submit(messages)
    assert gw.errors.counts == {"item_error": 2, "invalid_answer": 2}
    await gw.aclose()


async def test_voice_placements_count_error_answers_and_transport_failures() -> None:
    answers: list[httpx.Response | Exception] = []
    handle = scripted(answers)

    config = GatewaySettings(type="voice", url="https://voice.example", account_sid="AC1",
                             auth_token="s3cret", concurrency=1)
    gw = VoiceGateway("calls", config, "http://me/", transport=httpx.MockTransport(handle))
    call = Outbound("ref-1", "+33612345678", "+33100000000", "",
                    script=CallScript("Parti X.", say="Votez."))
    request = httpx.Request("POST", "https://voice.example/")
    answers += [httpx.Response(201, json={"sid": "CA1"}),
                httpx.Response(409, json={"message": "line busy"}),
                httpx.Response(503, json={"message": "down"}),
                httpx.ConnectError("refused", request=request)]
    for _ in range(len(answers)):
        await gw.submit([call])
    assert gw.errors.counts == {"409": 1, "503": 1, "connection_refused": 1}
    assert gw.health().up is False
    await gw.aclose()


async def test_smpp_error_answers_are_counted_by_command_status() -> None:
    statuses = {"ref-0": 0x0B, "ref-1": 0x08, "ref-2": 0x401, "ref-3": 0x58, "ref-4": 0x58,
                "ref-5": 0}
    smsc = TestSmsc(respond=lambda pdu: statuses[reference_of(pdu)])
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            await gw.submit(outbound(6))
            assert gw.errors.counts == {"ESME_RINVDSTADR": 1, "ESME_RSYSERR": 1,
                                        "vendor_0x00000401": 1, "ESME_RTHROTTLED": 2}
            assert gw.errors is gw.stats.errors
            assert "errors" not in gw.stats.as_dict()


async def test_smpp_timeouts_bind_refusals_and_drops_are_counted(
        autojump_clock: trio.testing.MockClock) -> None:
    answering = {"on": False}
    smsc = TestSmsc(bind_statuses=[0x0E],
                    respond=lambda pdu: 0 if answering["on"] else None)
    with trio.fail_after(120):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, timeout_s=3, reconnect_max_s=4)) as gw:
            assert gw.health().up is False
            await bound(smsc, gw)
            assert gw.errors.counts == {"ESME_RINVPASWD": 1}
            health = gw.health()
            assert (health.up, health.binds_bound, health.binds_total) == (True, 1, 1)
            await gw.submit(outbound(2))  # unanswered
            assert gw.errors.counts["timeout"] == 2
            await smsc.bound[0].close()
            await trio.testing.wait_all_tasks_blocked()
            answering["on"] = True
            await bound(smsc, gw, 1)
            assert gw.errors.counts["disconnected"] == 1


async def test_an_smsc_not_listening_is_connection_refused(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.socket.socket() as probe:  # a port nobody listens on
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with trio.fail_after(60):
        async with running_gateway(settings(port, reconnect_max_s=4)) as gw:
            assert gw.errors.counts == {"connection_refused": 1}
            assert gw.health().up is False


@pytest.mark.parametrize("status", [200, 503])
async def test_an_http_answer_of_any_status_means_up(status: int) -> None:
    config = GatewaySettings(url="http://gw.test", batch_size=1)
    gw = HttpGateway("gw", config, "", transport=httpx.MockTransport(
        lambda r: httpx.Response(status, json={"id": "g1"})))
    await gw.submit([MESSAGE])
    assert gw.health().up is True
    await gw.aclose()
