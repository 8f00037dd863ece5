"""A small HTTP/1.1 server on Trio and h11, for the daemon's inbound endpoints and metrics
and for the gateway simulator.

One task per connection, keep-alive, and bounds that no client can push past (`Limits`):
a number of connections, a body size, a time to send each request. A handler that raises
gets a 500 for that request and the server keeps serving; a malformed request gets a 400
and the connection is closed. Nothing here knows about the routes: the handler does.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import h11
import trio

from dispatch.listening import open_listeners

log = logging.getLogger(__name__)

READ_SIZE = 65536
MAX_HEAD_BYTES = 64 * 1024
TRIM_AFTER_BODY_BYTES = 256 * 1024  # see Slots.handling
# Once strictly decoded, a JSON body may hold a lone surrogate or a NUL only as one of
# these escapes: the body is looked through (slowly) for them only when one is there.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclass(frozen=True)
class Limits:
    """What one server grants its clients (daemon.inbound_* settings)."""

    # Connections served at once. Gateways open a few each (the simulator 8 per URL);
    # each costs a descriptor and up to a body's memory.
    max_connections: int = 256
    # A request's body. The largest real batch: 10,000 receipts (the most one request may
    # carry) of ~100 bytes is ~1 MB; the simulator posts 200 (~30 KB).
    max_body_bytes: int = 2 * 1024 * 1024
    # From the moment the server waits for a request (connection opened, or the previous
    # response sent) to the last byte of its body: a slow or idle client is dropped.
    request_timeout_s: float = 10.0


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        """The body as JSON; raises ValueError with a readable message, also for text that
        cannot be stored (a lone surrogate, a NUL), wherever it is."""
        try:
            # Strictly: json.loads(bytes) would let encoded surrogates (ED A0 80) through.
            text = self.body.decode("utf-8-sig")
            payload = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from None
        except RecursionError:  # "[[[[...": no gateway nests that deep
            raise ValueError("body is not valid JSON: nested too deep") from None
        if _SUSPECT_ESCAPE.search(text):
            try:
                for where, value in _strings(payload, "body"):
                    if (problem := text_problem(value)) is not None:
                        raise ValueError(f"{where} holds {problem}")
            except RecursionError:
                raise ValueError("body is not valid JSON: nested too deep") from None
        return payload


def text_problem(value: str) -> str | None:
    """What makes `value` unfit to store (None: nothing): a lone surrogate cannot be
    encoded (UTF-8, msgpack, Redis), a NUL truncates it in C and in many tools."""
    if "\0" in value:
        return "a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate (U+{ord(value[exc.start]):04X})"
    return None


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys too), with where it is: body[0].id."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{where} key", key
            # Only a plain key is named (the line is logged): "?" for any other.
            yield from _strings(item, f"{where}.{key if _PLAIN_KEY.fullmatch(key) else '?'}")


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
                     setting: str = "port", limits: Limits = DEFAULT_LIMITS,
                     task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; reports the bound port (useful with port 0) once listening.
    A port that cannot be had is a PortUnavailableError naming `what` and `setting`."""
    listeners = await open_listeners(port, host, what, setting)
    await serve_listeners(handler, listeners, limits=limits, task_status=task_status)


async def serve_listeners(handler: Handler, listeners: Sequence[trio.SocketListener], *,
                          limits: Limits = DEFAULT_LIMITS,
                          task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """As `serve_http`, on listeners opened beforehand (their port known before serving)."""
    slots = Slots(limits.max_connections)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners,
                           _connection_handler(handler, slots, limits), list(listeners))
        task_status.started(bound_port(listeners))


def bound_port(listeners: Sequence[trio.SocketListener]) -> int:
    port: int = listeners[0].socket.getsockname()[1]
    return port


class Slots:
    """The connections being served, and which of them wait for a request.

    Full, a new connection takes the slot of the one that has waited longest for its
    request (an idle keep-alive, or a client still sending): a real gateway sends its
    request at once, so it is served within milliseconds and is never that one; a slow
    or idle client is, and it is closed. Making the newcomer wait instead (not accepting)
    would queue real receipts behind every held connection, each up to the request
    timeout (10,000 held connections: minutes). Only when every slot is in a handler (real
    work, e.g. receipts waiting for Redis) is the newcomer closed at once; the gateway
    posts again later."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.evicted = 0  # connections closed to make room, for tests and the curious
        self.refused = 0  # connections closed at once: every slot was in a handler
        self._held: set[int] = set()
        self._large = 0  # requests with a large body, read and not yet answered
        self._waiting: OrderedDict[int, trio.CancelScope] = OrderedDict()
        self._ids = count()

    def take(self) -> int | None:
        """A slot for a new connection (its id), or None: close it."""
        if len(self._held) >= self.capacity:
            if not self._waiting:
                self.refused += 1
                return None
            victim, scope = self._waiting.popitem(last=False)
            self._held.discard(victim)
            scope.cancel()
            self.evicted += 1
        slot = next(self._ids)
        self._held.add(slot)
        return slot

    def waiting(self, slot: int, scope: trio.CancelScope) -> None:
        """`slot` waits for a request (at the back of the line), under `scope`."""
        self._waiting[slot] = scope

    def serving(self, slot: int) -> None:
        self._waiting.pop(slot, None)

    @contextlib.contextmanager
    def handling(self, request: Request) -> Iterator[None]:
        """While `request` is handled; the last of a burst of large bodies answered, the
        heap's free memory is given back (their 64 KiB reads leave it full of holes that
        glibc keeps: after 80 bodies of 1 MiB, the daemon held ~200 MB, ~140 MB trimmed)."""
        large = len(request.body) >= TRIM_AFTER_BODY_BYTES
        self._large += large
        try:
            yield
        finally:
            self._large -= large
            if large and not self._large:
                _trim_heap()

    def give_back(self, slot: int) -> None:
        self._held.discard(slot)
        self._waiting.pop(slot, None)


def _load_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_MALLOC_TRIM = _load_trim()


def _trim_heap() -> None:
    """Give the C heap's free memory back to the system (a few ms after a burst)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _connection_handler(handler: Handler, slots: Slots, limits: Limits
                        ) -> Callable[[trio.SocketStream], Awaitable[None]]:
    async def on_connection(stream: trio.SocketStream) -> None:
        async with stream:
            slot = slots.take()
            if slot is None:
                return
            try:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError
                                         ):  # the client went away
                    await _serve_connection(_Connection(stream, slot, slots, limits),
                                            handler)
            finally:
                slots.give_back(slot)
    return on_connection


@dataclass
class _Connection:
    stream: trio.SocketStream
    slot: int
    slots: Slots
    limits: Limits
    conn: h11.Connection = field(default_factory=lambda: h11.Connection(
        h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES))


async def _serve_connection(client: _Connection, handler: Handler) -> None:
    conn = client.conn
    while True:
        try:
            request = await _read_in_time(client)
        except h11.RemoteProtocolError as exc:
            await _send_error_and_close(client.stream, conn, exc.error_status_hint, str(exc))
            return
        if request is None:
            return
        if isinstance(request, Response):  # body too large
            await _send_in_time(client, request, close=True)
            return
        with client.slots.handling(request):
            response = await _call(handler, request)
        if not await _send_in_time(client, response):
            return
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        conn.start_next_cycle()


async def _send_in_time(client: _Connection, response: Response, *, close: bool = False
                        ) -> bool:
    """Whether the response was sent within the request timeout: a client that does not
    read what it asked for (a large /metrics) must not hold its slot."""
    with trio.move_on_after(client.limits.request_timeout_s):
        await _send(client.stream, client.conn, response, close=close)
        return True
    return False


async def _read_in_time(client: _Connection) -> Request | Response | None:
    """The next request, read within the request timeout, while its slot may be taken by
    a newcomer (then None: the connection is closed)."""
    with trio.move_on_after(client.limits.request_timeout_s) as scope:
        client.slots.waiting(client.slot, scope)
        try:
            return await _read_request(client.stream, client.conn,
                                       client.limits.max_body_bytes)
        finally:
            client.slots.serving(client.slot)
    return None  # too slow, or its slot was given to another connection


async def _call(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except Exception:
        log.exception("handler failed for %s %s", request.method, request.path)
        return error_response(500, "internal error")


async def _read_request(stream: trio.SocketStream, conn: h11.Connection, max_body: int
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
            if _declared_length(event) > max_body:  # refused before it is sent
                return _too_large(max_body)
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_body:
                return _too_large(max_body)
            chunks.append(event.data)
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return _request(head, b"".join(chunks))


def _declared_length(head: h11.Request) -> int:
    for name, value in head.headers:
        if name == b"content-length":
            return int(value)  # h11 has checked it is a number
    return 0


def _too_large(max_body: int) -> Response:
    return error_response(413, f"body larger than {max_body} bytes "
                               "(daemon.inbound_max_body_bytes)")


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> h11.Event | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
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


async def _send(stream: trio.SocketStream, conn: h11.Connection, response: Response, *,
                close: bool = False) -> None:
    headers = [("content-type", response.content_type),
               ("content-length", str(len(response.body))),
               *response.headers.items()]
    if close:  # the rest of the request is not read: the connection cannot go on
        headers.append(("connection", "close"))
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
