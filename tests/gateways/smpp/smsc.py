"""A scriptable test SMSC on the project's sans-IO Session, over real TCP (127.0.0.1, port 0).

It answers binds (scripted statuses), submit_sm (a status per PDU, or never; after a delay,
in reverse order if asked), enquire_link and unbind, and lets a test send deliver_sm,
unbind or close. It records what it sees for assertions: every submit_sm, the most requests
ever outstanding on a connection, the most submit_sm that arrived in one TCP read.

Also runs as a process for the throughput benchmark: `python -m tests.gateways.smpp.smsc`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from dispatch.gateways.smpp.submit import REFERENCE_TAG
from dispatch.smpp import (
    NEED_DATA,
    Bind,
    BindResp,
    ConnectionClosed,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    LocalProtocolError,
    Pdu,
    ProtocolError,
    Rejected,
    Role,
    Session,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    response_to,
)

Respond = Callable[[SubmitSm], int | None]  # a status, or None: never answer


def reference_of(pdu: SubmitSm) -> str:
    raw = pdu.tlvs.get(REFERENCE_TAG, b"")
    return raw.rstrip(b"\0").decode() if isinstance(raw, bytes) else str(raw)


def id_from_reference(pdu: SubmitSm, status: int) -> str:
    """The default message id: the part's reference and its UDH sequence (if any)."""
    if status:
        return ""
    suffix = f"-{pdu.short_message[5]}" if pdu.esm_class & 0x40 else ""
    return reference_of(pdu) + suffix


@dataclass
class SmscConnection:
    number: int
    stream: trio.SocketStream
    session: Session
    smsc: TestSmsc
    bind: Bind | None = None
    submits: list[SubmitSm] = field(default_factory=list)
    submit_times: list[float] = field(default_factory=list)
    outstanding: int = 0
    max_outstanding: int = 0
    max_submits_per_read: int = 0
    deliver_resps: list[DeliverSmResp] = field(default_factory=list)
    enquire_links: int = 0
    enquire_link_resps: int = 0
    unbinds: int = 0
    nacks: list[GenericNack] = field(default_factory=list)
    others: list[object] = field(default_factory=list)  # any other PDU received
    unbind_resp: trio.Event = field(default_factory=trio.Event)
    closed: trio.Event = field(default_factory=trio.Event)
    _lock: trio.Lock = field(default_factory=trio.Lock)

    async def write(self, data: bytes) -> None:
        async with self._lock:
            await self.stream.send_all(data)

    async def send(self, *pdus: Pdu) -> list[int]:
        """Send requests (deliver_sm, unbind, enquire_link) in one write; their sequences."""
        data = b"".join(self.session.send(pdu) for pdu in pdus)
        await self.write(data)
        return [pdu.sequence_number for pdu in pdus]

    async def close(self) -> None:
        await trio.aclose_forcefully(self.stream)
        self.closed.set()
        self.smsc.poke()


class TestSmsc:
    __test__ = False  # not a pytest class

    def __init__(self, *, bind_statuses: list[int] | None = None, respond: Respond | None = None,
                 delay_s: float = 0.0, reverse: bool = False,
                 message_id: Callable[[SubmitSm, int], str] = id_from_reference,
                 answer_enquire_link: bool = True, unbind_back: bool = False) -> None:
        self.bind_statuses = list(bind_statuses or [])
        self.respond: Respond = respond or (lambda pdu: 0)
        self.delay_s = delay_s
        self.reverse = reverse
        self.message_id = message_id
        self.answer_enquire_link = answer_enquire_link
        self.unbind_back = unbind_back  # meet an unbind with an unbind of its own first
        self.port = 0
        self.connections: list[SmscConnection] = []
        self.binds: list[Bind] = []
        self._event: trio.Event | None = None

    # Waiting for something to happen.

    def poke(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def until(self, predicate: Callable[[], object]) -> None:
        while not predicate():
            if self._event is None:
                self._event = trio.Event()
            await self._event.wait()

    async def connection(self, number: int) -> SmscConnection:
        """The `number`-th bound connection (0-based), once it is bound."""
        await self.until(lambda: len(self.bound) > number)
        return self.bound[number]

    @property
    def bound(self) -> list[SmscConnection]:
        return [c for c in self.connections if c.bind is not None]

    # Serving.

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        conn = SmscConnection(len(self.connections), stream, Session(Role.SMSC), self)
        self.connections.append(conn)
        try:
            async with trio.open_nursery() as nursery:
                await _quietly(self._read(conn, nursery))
                nursery.cancel_scope.cancel()
        finally:
            conn.closed.set()
            self.poke()

    async def _read(self, conn: SmscConnection, nursery: trio.Nursery) -> None:
        while True:
            data = await conn.stream.receive_some(65536)
            conn.session.receive_data(data)
            immediate: list[bytes] = []
            replies: list[Pdu] = []
            submits = 0
            while (event := conn.session.next_event()) is not NEED_DATA:
                if isinstance(event, ProtocolError | ConnectionClosed):
                    return
                submits += isinstance(event, SubmitSm)
                self._on_event(conn, event, immediate, replies)
            conn.max_submits_per_read = max(conn.max_submits_per_read, submits)
            self.poke()
            if immediate:
                await conn.write(b"".join(immediate))
            if replies:
                nursery.start_soon(_quietly, self._reply(conn, replies))

    def _on_event(self, conn: SmscConnection, event: object, immediate: list[bytes],
                  replies: list[Pdu]) -> None:
        if isinstance(event, SubmitSm):
            self._on_submit(conn, event, replies)
        elif isinstance(event, Bind):
            immediate.append(self._on_bind(conn, event))
        elif isinstance(event, DeliverSmResp):
            conn.deliver_resps.append(event)
        elif isinstance(event, EnquireLink):
            conn.enquire_links += 1
            if self.answer_enquire_link:
                immediate.append(conn.session.send(response_to(event)))
        elif isinstance(event, EnquireLinkResp):
            conn.enquire_link_resps += 1
        elif isinstance(event, Unbind):
            conn.unbinds += 1
            if self.unbind_back:
                immediate.append(conn.session.send(Unbind()))
            immediate.append(conn.session.send(response_to(event)))
        elif isinstance(event, UnbindResp):
            conn.unbind_resp.set()
        elif isinstance(event, GenericNack):
            conn.nacks.append(event)
        elif isinstance(event, Rejected):
            immediate.append(event.data)
        else:
            conn.others.append(event)

    def _on_bind(self, conn: SmscConnection, pdu: Bind) -> bytes:
        status = self.bind_statuses.pop(0) if self.bind_statuses else 0
        if not status:
            conn.bind = pdu
            self.binds.append(pdu)
        reply = response_to(pdu, status)
        assert isinstance(reply, BindResp)
        reply.system_id = "TESTSMSC"
        return conn.session.send(reply)

    def _on_submit(self, conn: SmscConnection, pdu: SubmitSm, replies: list[Pdu]) -> None:
        conn.submits.append(pdu)
        conn.submit_times.append(trio.current_time())
        conn.outstanding += 1
        conn.max_outstanding = max(conn.max_outstanding, conn.outstanding)
        status = self.respond(pdu)
        if status is None:
            return
        replies.append(SubmitSmResp(pdu.sequence_number, status, self.message_id(pdu, status)))

    async def _reply(self, conn: SmscConnection, replies: list[Pdu]) -> None:
        if self.delay_s:
            await trio.sleep(self.delay_s)
        if self.reverse:
            replies.reverse()
        data = b"".join(conn.session.send(reply) for reply in replies)
        conn.outstanding -= len(replies)
        await conn.write(data)


async def _quietly(work: Awaitable[None]) -> None:
    """A peer that goes away is part of every test here, not an error of the SMSC."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError,
                             LocalProtocolError):
        await work


async def _main() -> None:  # pragma: no cover - the benchmark's SMSC process
    smsc = TestSmsc(message_id=lambda pdu, status: str(pdu.sequence_number))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(smsc.serve)
        print(port, flush=True)
        await trio.to_thread.run_sync(sys.stdin.read)  # until the benchmark closes stdin
        nursery.cancel_scope.cancel()


if __name__ == "__main__":  # pragma: no cover
    trio.run(_main)
