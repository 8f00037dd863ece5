"""One SMPP client connection of the SMSC: a Session in the SMSC role between the socket
and SmscCore.

Two tasks, no task per PDU: the reader reads large chunks, drains every event the Session
has, and queues the answers; the writer sends everything queued (responses whose latency
has passed, deliver_sm, enquire_link) in one send_all. A client that does not read makes
the reader wait (bounded backlog), so memory stays bounded.

Closing, whoever asks: stop reading, answer every request already read (held-back
responses are sent at once), send them all, half-close (FIN), then read and discard until
the client closes or LINGER_S passes, and close. A client thus gets the response of every
submit_sm the SMSC accepted before it sees the end of the stream; requests the SMSC never
read were not accepted. deliver_sm left unacknowledged go back to the waiting line.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from typing import Final

import trio

from dispatch.simulator.smsc.core import BindState, SmscCore
from dispatch.simulator.smsc.delivery import Delivery
from dispatch.smpp.constants import Status
from dispatch.smpp.pdu import (
    Bind,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    Unbind,
    UnbindResp,
)
from dispatch.smpp.session import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    ProtocolError,
    Rejected,
    Role,
    Session,
    State,
)

log = logging.getLogger(__name__)

READ_SIZE: Final = 128 * 1024
BACKLOG: Final = 10_000  # PDUs queued for the writer before the reader waits
UNBIND_WAIT_S: Final = 5.0  # for the client's unbind_resp to a server unbind
LINGER_S: Final = 2.0  # after our FIN, for the client to close its side
_BOUND: Final = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})


class SmscConnection:
    def __init__(self, stream: trio.abc.HalfCloseableStream, core: SmscCore, *,
                 enquire_link_s: float = 0.0) -> None:
        self.stream = stream
        self.core = core
        self.session = Session(Role.SMSC)
        self.bind: BindState | None = None
        self.system_id = ""
        self.awaiting: dict[int, Delivery] = {}  # deliver_sm sequence -> delivery
        self.outstanding = 0  # submit_sm read and not yet answered on the wire
        self.closing = False
        self._receiving = False  # registered for deliver_sm
        self._outbox: list[bytes] = []
        self._outbox_slots = 0  # submit_sm_resp among the outbox
        self._delayed: list[tuple[float, int, bytes]] = []  # responses held for latency
        self._order = itertools.count()
        self._wake = trio.Event()
        self._drained = trio.Event()
        self._finished = False  # nothing more will be queued: the writer ends when done
        self._read_scope = trio.CancelScope()
        self._enquire_scope = trio.CancelScope()
        self._enquire_link_s = enquire_link_s

    # The connection's life.

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop)
                if self._enquire_link_s:
                    nursery.start_soon(self._enquire_loop)
                try:
                    await self._read_loop()
                finally:
                    self._finish()
        except* (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away: nothing more can be sent
        finally:
            self.session.close()
            self._stop_receiving(trio.current_time())
        await self._close()

    def request_close(self, mode: str) -> None:
        """Close as described above; with mode "unbind", send unbind first and wait for
        the client's unbind_resp (at most UNBIND_WAIT_S), answering requests meanwhile."""
        if self.closing:
            return
        self.closing = True
        self.core.counters.disconnects += 1
        self._detach()
        if mode == "unbind" and self.session.state in _BOUND:
            self._queue(self.session.send(Unbind()))
            self._read_scope.deadline = trio.current_time() + UNBIND_WAIT_S
        else:
            self._read_scope.cancel()

    async def _read_loop(self) -> None:
        with self._read_scope:
            while True:
                if len(self._outbox) >= BACKLOG:
                    self._drained = trio.Event()
                    await self._drained.wait()
                data = await self.stream.receive_some(READ_SIZE)
                self.session.receive_data(bytes(data))  # no copy: it is bytes already
                if not self._process(trio.current_time()):
                    return
        self._process(trio.current_time())  # asked to close: answer what was read already

    def _finish(self) -> None:
        self._finished = True
        self._release_delayed(math.inf)
        self._enquire_scope.cancel()
        self._wake.set()

    async def _close(self) -> None:
        await close_after_answers(self.stream)

    # Reading: every event the Session has, answers queued, no await.

    def _process(self, now: float) -> bool:
        """Handle the events received; False once the connection must close."""
        session, keep_reading, acknowledged = self.session, True, False
        while (event := session.next_event()) is not NEED_DATA:
            kind = type(event)
            if kind is SubmitSm:
                self._on_submit(event, now)  # type: ignore[arg-type]
            elif kind is DeliverSmResp or kind is GenericNack:
                acknowledged |= self._on_ack(event, now)  # type: ignore[arg-type]
            else:
                keep_reading = self._on_other(event, now) and keep_reading
                if kind is ProtocolError or kind is ConnectionClosed:
                    break  # both stick: the Session would return them again
        if acknowledged and self._receiving:
            self.core.deliveries.pump(self.system_id, now)
        if self._outbox or self._delayed:
            self._wake.set()  # the writer may be asleep until a later deadline
        return keep_reading

    def _on_submit(self, pdu: SubmitSm, now: float) -> None:
        bind = self.bind
        assert bind is not None  # the Session passes submit_sm only to a bound TX/TRX
        response = self.core.submit(pdu, bind, self if self._receiving else None,
                                    self.outstanding, now)
        if response is None:
            return
        data = self.session.send(response)
        self.outstanding += 1
        delay = 0.0 if response.command_status == Status.ESME_RMSGQFUL \
            else self.core.policy.latency(now)
        if delay:
            heapq.heappush(self._delayed, (now + delay, next(self._order), data))
        else:
            self._outbox.append(data)
            self._outbox_slots += 1

    def _on_ack(self, pdu: DeliverSmResp | GenericNack, now: float) -> bool:
        delivery = self.awaiting.pop(pdu.sequence_number, None)
        if delivery is None:
            return False  # late (already resent) or not ours
        status = pdu.command_status or (Status.ESME_RSYSERR if type(pdu) is GenericNack else 0)
        self.core.deliveries.acknowledged(delivery, status, now)
        return True

    def _on_other(self, event: Event, now: float) -> bool:
        if isinstance(event, Bind):
            self._on_bind(event, now)
        elif isinstance(event, EnquireLink):
            self._queue(self.session.send(EnquireLinkResp(event.sequence_number)))
        elif isinstance(event, Unbind):
            self.core.counters.unbinds += 1
            self._detach()
            self._queue(self.session.send(UnbindResp(event.sequence_number)))
            return False
        elif isinstance(event, Rejected):
            self._on_rejected(event)
        elif isinstance(event, ProtocolError):
            self.core.counters.junk += 1
            log.info("smpp: closing a connection of %r: %s", self.system_id, event.reason)
            return False
        elif isinstance(event, ConnectionClosed | UnbindResp):
            return False
        return True  # enquire_link_resp, stray responses: nothing to do

    def _on_bind(self, pdu: Bind, now: float) -> None:
        response, state = self.core.bind(pdu, now)
        self._queue(self.session.send(response))
        if state is None:
            return
        self.bind, self.system_id = state, state.system_id
        if state.receives and not self.closing:
            self._receiving = True
            self.core.deliveries.add_outlet(self, now)

    def _on_rejected(self, event: Rejected) -> None:
        counters = self.core.counters
        if isinstance(event.reply, GenericNack):
            counters.junk += 1
        else:
            counters.invalid_state += 1
        self._queue(event.data)

    def _queue(self, data: bytes) -> None:
        self._outbox.append(data)
        self._wake.set()

    # Outlet: deliver_sm to this client.

    def free_slots(self) -> int:
        """Room for deliver_sm; none once the connection is closing or its session closed
        (the client hung up): a deliver_sm pushed there could not be sent and would be lost.
        Those already sent go back to the waiting line when the outlet is removed."""
        if self.closing or self.session.state is State.CLOSED:
            return 0
        return self.core.policy.window - len(self.awaiting)

    def push(self, deliveries: list[Delivery], now: float) -> None:
        send, awaiting, outbox = self.session.send, self.awaiting, self._outbox
        for delivery in deliveries:
            pdu = delivery.pdu
            assert pdu is not None  # built by Deliveries before the push
            outbox.append(send(pdu))
            delivery.sent_at = now
            awaiting[pdu.sequence_number] = delivery
        self._wake.set()

    def _detach(self) -> None:
        """No new deliver_sm here; those sent may still be acknowledged."""
        if self._receiving:
            self.core.deliveries.detach_outlet(self)

    def _stop_receiving(self, now: float) -> None:
        if self._receiving:
            self._receiving = False
            self.core.deliveries.remove_outlet(self, now)

    # Writing.

    async def _write_loop(self) -> None:
        while await self._output_ready():
            data = b"".join(self._outbox)
            self._outbox.clear()
            self.outstanding -= self._outbox_slots
            self._outbox_slots = 0
            self.core.ledger.flush()  # what the answers say taken is in the journal first
            await self.stream.send_all(data)
            self._drained.set()

    async def _output_ready(self) -> bool:
        """Wait for something to send: True, or False once finished and all sent."""
        while True:
            self._release_delayed(trio.current_time())
            if self._outbox:
                return True
            if self._finished:
                return False
            deadline = self._delayed[0][0] if self._delayed else math.inf
            self._wake = trio.Event()
            with trio.move_on_at(deadline):
                await self._wake.wait()

    def _release_delayed(self, now: float) -> None:
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            self._outbox.append(heapq.heappop(delayed)[2])
            self._outbox_slots += 1

    async def _enquire_loop(self) -> None:
        with self._enquire_scope:
            while True:
                await trio.sleep(self._enquire_link_s)
                if self.session.state in _BOUND and not self.closing:
                    self._queue(self.session.send(EnquireLink()))
                    self.core.counters.enquire_links_sent += 1


async def close_after_answers(stream: trio.abc.HalfCloseableStream) -> None:
    """Close without losing what was sent: closing with unread data would make the kernel
    reset the connection and discard answers not yet delivered, so half-close, then drain
    until the client closes (at most LINGER_S)."""
    try:
        with trio.move_on_after(LINGER_S):
            await stream.send_eof()
            while await stream.receive_some(READ_SIZE):
                pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()  # closes the socket even when cancelled
