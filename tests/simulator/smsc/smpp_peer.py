"""A small ESME for the SMSC tests, on the project's own Session over TCP, and a helper to
run a Simulator with its SMSC on port 0."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from dispatch.simulator import Simulator, SimulatorConfig
from dispatch.smpp import (
    NEED_DATA,
    BindTransceiver,
    ConnectionClosed,
    Event,
    Pdu,
    ProtocolError,
    Role,
    Session,
    SubmitSm,
    Tlvs,
)


@dataclass
class Running:
    simulator: Simulator
    http: httpx.AsyncClient
    smpp_port: int

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()


def simulator(**knobs: Any) -> Simulator:
    knobs.setdefault("outcomes", {"delivered": 1.0})
    knobs.setdefault("receipt_delay_ms", 0.0)
    return Simulator(SimulatorConfig(http_port=0, smpp_port=0, seed=1, **knobs))


@asynccontextmanager
async def running(sim: Simulator) -> AsyncIterator[Running]:
    async with trio.open_nursery() as nursery:
        http_port = await nursery.start(sim.serve)
        assert sim.smpp_port is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:
            yield Running(sim, client, sim.smpp_port)
        nursery.cancel_scope.cancel()


class Esme:
    """Send PDUs, read events; the tests decide what to answer."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.session = Session(Role.ESME)
        self._events: deque[Event] = deque()
        self.closed = False

    @classmethod
    async def connect(cls, port: int) -> Esme:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, *pdus: Pdu) -> list[int]:
        """Send in one write; returns the sequence numbers given to the requests."""
        data = b"".join(self.session.send(pdu) for pdu in pdus)
        await self.stream.send_all(data)
        return [pdu.sequence_number for pdu in pdus]

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def event(self) -> Event:
        """The next event; ConnectionClosed (or ProtocolError) once the stream ends."""
        while not self._events:
            await self._read()
        return self._events.popleft()

    async def _read(self) -> None:
        data = b"" if self.closed else await self.stream.receive_some(65536)
        self.closed = not data
        self.session.receive_data(data)
        while (event := self.session.next_event()) is not NEED_DATA:
            self._events.append(event)
            if isinstance(event, ConnectionClosed | ProtocolError):
                return

    async def expect(self, kind: type[Any]) -> Any:
        event = await self.event()
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
        return event

    async def events_until(self, done: Callable[[list[Event]], bool]) -> list[Event]:
        events: list[Event] = []
        while not done(events):
            event = await self.event()
            events.append(event)
            if isinstance(event, ConnectionClosed | ProtocolError):
                break
        return events

    async def until_closed(self) -> list[Event]:
        return await self.events_until(lambda events: False)

    async def bind(self, pdu: Pdu | None = None) -> Any:
        await self.send(pdu or BindTransceiver(system_id="acme", password="secret"))
        return await self.event()

    async def aclose(self) -> None:
        await self.stream.aclose()


def submit(text: bytes = b"Vote!", *, source: str = "33700000001",
           destination: str = "33612345678", reference: str | None = None,
           registered_delivery: int = 0, **fields: Any) -> SubmitSm:
    tlvs: Tlvs = {0x1501: reference.encode() + b"\0"} if reference is not None else {}
    return SubmitSm(source_addr=source, destination_addr=destination, short_message=text,
                    registered_delivery=registered_delivery, tlvs=tlvs, **fields)


@asynccontextmanager
async def bound(port: int, pdu: Pdu | None = None) -> AsyncIterator[Esme]:
    esme = await Esme.connect(port)
    try:
        response = await esme.bind(pdu)
        assert response.command_status == 0, response
        yield esme
    finally:
        await esme.aclose()


async def wait_for(predicate: Callable[[], bool], step: float = 0.01) -> None:
    """Poll a condition on the simulator's state (the caller bounds it with fail_after)."""
    while not predicate():
        await trio.sleep(step)
