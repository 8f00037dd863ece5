"""A small HTTP/1.1 server on Trio and h11, for the daemon's inbound endpoints and metrics
and for the gateway simulator.

One task per connection, keep-alive, a body size limit. A handler that raises gets a 500
for that request and the server keeps serving; a malformed request gets a 400 and the
connection is closed. Nothing here knows about the routes: the handler does.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

from dispatch.listening import open_listeners

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
READ_SIZE = 65536
# A client that sends nothing for this long is disconnected.
IDLE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        """The body as JSON; raises ValueError with a readable message."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers or {})


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def serve_http(handler: Handler, host: str, port: int, *, what: str = "HTTP",
                     setting: str = "port",
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; reports the bound port (useful with port 0) once listening.
    A port that cannot be had is a PortUnavailableError naming `what` and `setting`."""
    listeners = await open_listeners(port, host, what, setting)
    await serve_listeners(handler, listeners, task_status=task_status)


async def serve_listeners(handler: Handler, listeners: Sequence[trio.SocketListener], *,
                          task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """As `serve_http`, on listeners opened beforehand (their port known before serving)."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _connection_handler(handler),
                           list(listeners))
        task_status.started(bound_port(listeners))


def bound_port(listeners: Sequence[trio.SocketListener]) -> int:
    port: int = listeners[0].socket.getsockname()[1]
    return port


def _connection_handler(handler: Handler) -> Callable[[trio.SocketStream], Awaitable[None]]:
    async def on_connection(stream: trio.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError,
                                     trio.TooSlowError):  # the client went away or stalled
                await _serve_connection(stream, handler)
    return on_connection


async def _serve_connection(stream: trio.SocketStream, handler: Handler) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    while True:
        try:
            request = await _read_request(stream, conn)
        except h11.RemoteProtocolError as exc:
            await _send_error_and_close(stream, conn, exc.error_status_hint, str(exc))
            return
        if request is None:
            return
        if isinstance(request, Response):  # body too large
            await _send(stream, conn, request)
            return
        await _send(stream, conn, await _call(handler, request))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        conn.start_next_cycle()


async def _call(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except Exception:
        log.exception("handler failed for %s %s", request.method, request.path)
        return error_response(500, "internal error")


async def _read_request(stream: trio.SocketStream, conn: h11.Connection
                        ) -> Request | Response | None:
    head: h11.Request | None = None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next_event(stream, conn)
        if event is None:
            return None
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY_BYTES:
                return error_response(413, f"body larger than {MAX_BODY_BYTES} bytes")
            chunks.append(event.data)
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return _request(head, b"".join(chunks))


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> h11.Event | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            with trio.fail_after(IDLE_TIMEOUT_S):
                data = await stream.receive_some(READ_SIZE)
            conn.receive_data(data)
            if not data and conn.their_state is h11.IDLE:
                return None
            continue
        if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
        return event  # type: ignore[return-value]


def _request(head: h11.Request, body: bytes) -> Request:
    target = head.target.decode("latin-1")
    path, _, query = target.partition("?")
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in head.headers}
    return Request(head.method.decode("ascii"), path, query, headers, body)


async def _send(stream: trio.SocketStream, conn: h11.Connection, response: Response) -> None:
    headers = [("content-type", response.content_type),
               ("content-length", str(len(response.body))),
               *response.headers.items()]
    data = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)


async def _send_error_and_close(stream: trio.SocketStream, conn: h11.Connection,
                                status: int, message: str) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = json.dumps({"error": f"bad request: {message}"}).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body))),
               ("connection", "close")]
    try:
        data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError:
        return
    await stream.send_all(data)
