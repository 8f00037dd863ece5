"""No voice callback stops the daemon (issue 17, item 9): a body that is not UTF-8, a NUL,
a duration that is not a number get 400 with what is wrong; percent-escapes that are not
UTF-8 read as U+FFFD; the good callbacks after them are handed over. The real routes and
handlers, through the real HTTP server on loopback."""

from __future__ import annotations

import httpx
import msgpack
import pytest
import trio

from dispatch.daemon.inbound.routes import inbound_handler
from dispatch.httpserver import serve_http
from dispatch.vocabulary import CallEnded, CallOutcome
from tests.gateways.voice.test_gateway import Provider, Recorded, gateway

BAD = [  # (path, body, what the refusal says)
    ("/voice/status", b"CallSid=CA\xff&CallStatus=completed", "the body is not UTF-8"),
    ("/voice/status", b"CallSid=CA%00&CallStatus=completed", "'CallSid' holds a NUL"),
    ("/voice/status", b"CallSid=CA1&CallStatus=completed&CallDuration=inf",
     "CallDuration is not a number"),
    ("/voice/gather", b"CallSid=CA1&Digits=9%00&To=%2B336&From=%2B339", "'Digits' holds a NUL"),
]
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(("path", "body", "reason"), BAD)
async def test_a_bad_callback_gets_400_and_the_next_good_one_is_handed_over(
        path: str, body: bytes, reason: str) -> None:
    inbound = Recorded()
    handler = inbound_handler(gateway(Provider()).callbacks(inbound))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, handler, "127.0.0.1", 0)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                refused = await client.post(path, content=body, headers=FORM)
                good = await client.post("/voice/status", headers=FORM,
                                         content=b"CallSid=CA%ED%A0%80&CallStatus=busy")
            nursery.cancel_scope.cancel()
    assert refused.status_code == 400 and reason in refused.json()["error"]
    assert good.status_code == 200
    assert inbound.ended == [CallEnded("CA\ufffd\ufffd\ufffd", CallOutcome.BUSY, 0.0, "busy")]
    assert msgpack.packb(inbound.ended[0].gateway_id)  # storable
