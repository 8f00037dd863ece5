"""The inbound server's bounds: body size, request time, connections; and the text a JSON
body may hold. Each against the real server on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from dispatch.app import inbound_limits
from dispatch.gateways.http.callbacks import MAX_ITEMS_PER_REQUEST
from dispatch.httpserver import Handler, Limits, Request, Response, json_response, serve_http
from dispatch.settings import ConfigError, DaemonSettings, load_settings
from dispatch.simulator.http.receipts import encode_receipts

LIMITS = Limits(max_connections=4, max_body_bytes=1000, request_timeout_s=1.0)


async def echo(request: Request) -> Response:
    return json_response({"size": len(request.body)})


@asynccontextmanager
async def server(limits: Limits = LIMITS, handler: Handler = echo) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(partial(serve_http, limits=limits), handler,
                                        "127.0.0.1", 0)
        yield port
        nursery.cancel_scope.cancel()


async def chunks(count: int) -> AsyncIterator[bytes]:
    """A body sent in chunks, no length declared."""
    for _ in range(count):
        yield b"y" * 100


async def closed_by_server(stream: trio.SocketStream) -> bool:
    """Whether the server closed `stream` (what it sent first is skipped)."""
    try:
        while await stream.receive_some(4096):
            pass
    except trio.BrokenResourceError:
        pass
    return True


async def test_a_body_over_the_limit_gets_413_and_a_body_at_it_is_served() -> None:
    with trio.fail_after(10):
        async with server() as port, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/", content=b"x" * 1000)).json() == {"size": 1000}
            refused = await client.post("/", content=b"x" * 1001)
            assert refused.status_code == 413
            assert "inbound_max_body_bytes" in refused.json()["error"]
            assert (await client.post("/", content=chunks(30))).status_code == 413
            assert (await client.post("/", content=b"ok")).json() == {"size": 2}


async def test_a_client_sending_a_byte_at_a_time_is_dropped() -> None:
    with trio.fail_after(10):
        async with server() as port:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            request = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello"
            sent = 0
            with pytest.raises((trio.BrokenResourceError, trio.ClosedResourceError)):
                for byte in request:
                    await stream.send_all(bytes([byte]))
                    sent += 1
                    await trio.sleep(0.3)  # the whole request would take ~20 s
            assert sent < len(request)
            await stream.aclose()


async def test_an_idle_connection_is_dropped_after_the_request_timeout() -> None:
    with trio.fail_after(10):
        async with server() as port, await trio.open_tcp_stream("127.0.0.1", port) as stream:
            assert await closed_by_server(stream)


async def test_when_full_a_new_connection_takes_the_slot_of_the_longest_idle() -> None:
    limits = Limits(max_connections=4, max_body_bytes=1000, request_timeout_s=60.0)
    with trio.fail_after(10):
        async with server(limits) as port:
            idle = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(4)]
            await trio.sleep(0.1)  # all four hold their slots
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(3):
                    assert (await client.post("/", content=b"receipt")).status_code == 200
            assert await closed_by_server(idle[0])  # the oldest went first
            for stream in idle:
                await stream.aclose()


async def test_when_every_slot_is_in_a_handler_a_new_connection_is_closed_at_once() -> None:
    limits = Limits(max_connections=2, max_body_bytes=1000, request_timeout_s=60.0)
    release, entered = trio.Event(), []

    async def slow(request: Request) -> Response:
        entered.append(request)
        await release.wait()
        return json_response({})

    with trio.fail_after(10):
        async with server(limits, slow) as port, httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}") as client, trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(client.post, "/")
            while len(entered) < 2:
                await trio.sleep(0.01)
            async with await trio.open_tcp_stream("127.0.0.1", port) as extra:
                assert await closed_by_server(extra)
            release.set()


@pytest.mark.parametrize(("body", "reason"), [
    (b'[{"id": "\\ud800", "status": "delivered"}]', "body[0].id holds a lone surrogate (U+D800)"),
    (b'{"from": "1", "text": "a\\udfffb"}', "body.text holds a lone surrogate (U+DFFF)"),
    (b'{"id": "a\\u0000"}', "body.id holds a NUL character"),
    (b'{"\\ud800": 1}', "body key holds a lone surrogate (U+D800)"),
])
def test_json_with_text_that_cannot_be_stored_is_refused_naming_where(body: bytes,
                                                                      reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        Request("POST", "/", "", {}, body).json()


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 2_000 + b"]" * 2_000,
                                  b'[' * 900 + b'"\\ud800"' + b']' * 900])
def test_json_nested_beyond_reason_is_refused_not_raised(body: bytes) -> None:
    """Found by the fuzzer: RecursionError escaped as a 500."""
    with pytest.raises(ValueError, match=r"nested too deep|lone surrogate"):
        Request("POST", "/", "", {}, body).json()


def test_json_with_a_surrogate_pair_or_escaped_backslashes_is_read() -> None:
    body = json.dumps({"text": "😀 \\ud800"}).encode()  # an emoji, then a literal \ud800
    assert Request("POST", "/", "", {}, body).json() == {"text": "😀 \\ud800"}


@pytest.mark.parametrize(("line", "message"), [
    ('inbound_max_connections = "many"', "daemon.inbound_max_connections: expected an integer"),
    ("inbound_max_body_bytes = 0", "daemon.inbound_max_body_bytes: must be at least 1"),
    ("inbound_request_timeout_s = 0", "daemon.inbound_request_timeout_s: must be more than 0"),
    ("orphan_receipt_cap = -1", "daemon.orphan_receipt_cap: must be at least 1"),
    ("inbound_max_conections = 10", "inbound_max_conections"),
])
def test_a_bad_bound_is_refused_naming_its_key(tmp_path: Path, line: str, message: str
                                               ) -> None:
    (tmp_path / "d.toml").write_text(f"[daemon]\n{line}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(tmp_path / "d.toml", env={})


def test_the_bounds_come_from_the_settings(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text("[daemon]\ninbound_max_connections = 16\n"
                                     "inbound_max_body_bytes = 4096\n"
                                     "inbound_request_timeout_s = 2.5\n")
    assert inbound_limits(load_settings(tmp_path / "d.toml", env={})) == Limits(16, 4096, 2.5)


def test_the_largest_batch_a_gateway_may_post_fits_the_default_body_limit() -> None:
    """10,000 receipts (the most one request may hold), written as the simulator writes
    them, with ids and references longer than it uses: not refused 413 by default."""
    receipts = [(f"gw-{i:033d}", f"1714567890123-{i}:{'x' * 24}", "delivered")
                for i in range(MAX_ITEMS_PER_REQUEST)]
    size = len(encode_receipts(receipts))
    assert size <= DaemonSettings().inbound_max_body_bytes, size
