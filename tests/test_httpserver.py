from __future__ import annotations

import httpx
import trio

from dispatch.httpserver import Request, Response, json_response, serve_http


async def echo(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    return json_response({"method": request.method, "path": request.path,
                          "query": request.query, "body": request.body.decode()})


async def test_serves_requests_and_survives_a_failing_handler() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, echo, "127.0.0.1", 0)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                reply = await client.post("/x?a=1", content=b"hello")
                assert reply.json() == {"method": "POST", "path": "/x", "query": "a=1",
                                        "body": "hello"}
                assert (await client.get("/boom")).status_code == 500
                assert (await client.get("/after")).json()["path"] == "/after"
            nursery.cancel_scope.cancel()


async def test_malformed_request_gets_400_and_server_keeps_serving() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, echo, "127.0.0.1", 0)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
                reply = await stream.receive_some(4096)
                assert reply.startswith(b"HTTP/1.1 400")
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"http://127.0.0.1:{port}/ok")).status_code == 200
            nursery.cancel_scope.cancel()
