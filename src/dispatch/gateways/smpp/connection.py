"""One bound SMPP session over TCP: a reader, a writer, a window, keepalives, deliveries.

Tasks of a connection (none per message):
- reader: feeds what arrives to the Session and handles every event at once — responses
  resolve their window entry, requests from the SMSC are answered, deliver_sm go to the
  delivery task; it keeps reading whatever the window holds. submit_sm_resp and deliver_sm
  come from the session undecoded (RAW_COMMANDS): their few fields are read from the bytes
  (smpp/fast.py), the PDU built only when they are not the plain layout;
- writer: writes everything queued since its last write in one `send_all`, so the
  submit_sm of a batch (and the answers of a read) leave together;
- expiry: a request unanswered within `timeout_s` is given up (fate unknown);
- keepalive: enquire_link after `enquire_link_s` without anything received; no answer
  within `timeout_s` ends the connection;
- deliveries: records receipts and MO through the DeliveryHandler, then answers them.
Any of them ending the connection records why and cancels the others; whatever is still
outstanding then gets Retry (fate unknown). A cancellation from outside (shutdown) unbinds
politely first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final

import trio

from dispatch.gateways.errors import TIMEOUT
from dispatch.gateways.smpp.batch import PendingBatch, Signal, Ticket
from dispatch.gateways.smpp.delivery import TRY_LATER, Delivery, DeliveryHandler, FrameReceipt
from dispatch.gateways.smpp.keepalive import ConnectionLost, Keepalive
from dispatch.gateways.smpp.rate import AdaptiveRate
from dispatch.gateways.smpp.stats import ClientStats
from dispatch.gateways.smpp.submit import CONNECTION_LOST, NO_RESPONSE, id_base, part_result
from dispatch.gateways.smpp.window import Window
from dispatch.gateways.smpp.writer import Writer
from dispatch.settings import GatewaySettings
from dispatch.smpp import (
    NEED_DATA,
    CommandId,
    ConnectionClosed,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    Frame,
    GenericNack,
    ProtocolError,
    Session,
    State,
    StatusClass,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    classify_status,
    response_to,
)
from dispatch.smpp import Rejected as SessionRejected
from dispatch.smpp.errors import LocalProtocolError, SmppEncodeError, SmppError
from dispatch.smpp.fast import encode_message_id_resp, frame_receipt, submit_resp_message_id
from dispatch.vocabulary import Rejected

log = logging.getLogger(__name__)

RECEIVE_SIZE: Final = 65536
DELIVERY_QUEUE: Final = 256  # reads carrying deliver_sm not yet handed to the handler
# Batches of deliver_sm being recorded at once: while one is recorded the SMSC fills its
# window again, and the next batch need not wait for the last one's Redis round trip.
DELIVERY_BATCHES: Final = 8
GOODBYE_S: Final = 2.0  # at most this long (and timeout_s) to unbind on shutdown or unbind
BOUND: Final = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
LINK_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, SmppError)
# Received undecoded (see the reader above): the two PDUs that come once per message.
RAW_COMMANDS: Final = frozenset({CommandId.SUBMIT_SM_RESP, CommandId.DELIVER_SM})
SUBMIT_SM_RESP: Final = int(CommandId.SUBMIT_SM_RESP)
DELIVER_SM_RESP: Final = int(CommandId.DELIVER_SM_RESP)


class Connection:
    def __init__(self, label: str, stream: trio.SocketStream, session: Session,
                 config: GatewaySettings, handler: DeliveryHandler, stats: ClientStats,
                 changed: Signal, *, can_submit: bool) -> None:
        self.label = label
        self.can_submit = can_submit
        self.accepting = can_submit  # may take submit_sm now
        self.window: Window[Ticket] = Window(config.window)
        self.rate = AdaptiveRate()
        self.end_reason = ""
        self._stream = stream
        self._session = session
        self._timeout = config.timeout_s
        self._id_base = id_base(config.submit_id_base)
        self._handler = handler
        self._stats = stats
        self._changed = changed
        self._writer = Writer(stream)
        self._in, self._in_queue = trio.open_memory_channel[list[Delivery]](DELIVERY_QUEUE)
        self._keepalive = Keepalive(session, self._writer, config.enquire_link_s,
                                    config.timeout_s)
        self._drained: trio.Event | None = None  # set when the window empties
        self._unbound = trio.Event()
        self._delivered: list[Delivery] = []
        self._nursery: trio.Nursery | None = None
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            SubmitSmResp: self._on_submit_resp, DeliverSm: self._delivered.append,
            EnquireLink: self._on_enquire_link, EnquireLinkResp: self._on_link_resp,
            GenericNack: self._on_nack, Unbind: self._on_unbind,
            UnbindResp: lambda _: self._unbound.set(), SessionRejected: self._on_rejected,
            ProtocolError: self._on_protocol_error, ConnectionClosed: self._on_closed,
        }

    # Running.

    async def run(self) -> str:
        """Until the connection ends; returns why. Cancelled: unbinds first (bounded)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for task in (self._read, self._writer.run, self._expire,
                             self._keepalive.run, self._deliver):
                    nursery.start_soon(self._guard, task)
        finally:
            self._end("shutting down")
            with trio.CancelScope(shield=True):
                if self.end_reason == "shutting down":
                    await self._goodbye()
                await trio.aclose_forcefully(self._stream)
                self._fail_outstanding()
        return self.end_reason

    async def _guard(self, task: Callable[[], Awaitable[None]]) -> None:
        try:
            await task()
        except ConnectionLost as exc:
            self._end(str(exc))
        except LINK_ERRORS as exc:
            self._end(f"{type(exc).__name__}: {exc}")

    def _end(self, reason: str) -> None:
        if not self.end_reason:
            self.end_reason = reason
        self.accepting = False
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        self._changed.notify()

    def _fail_outstanding(self) -> None:
        lost = self.window.clear()
        for batch, index in lost:
            batch.resolve(index, CONNECTION_LOST)
        self._stats.lost_in_flight += len(lost)
        self._changed.notify()

    # Submitting (called by the submitting task, not by this connection's tasks).

    def ready(self, now: float) -> bool:
        return self.accepting and self.window.free > 0 and self.rate.wait_s(now) == 0

    def take(self, batch: PendingBatch, start: int) -> int:
        """Write as many of `batch.pdus[start:]` as the window and the rate allow, in one
        write; returns how many were taken (0: none may go now)."""
        if not self.accepting:
            return 0
        now = trio.current_time()
        fits = batch.whole_messages(start, min(len(batch.pdus) - start, self.window.free))
        count = self.rate.take(now, fits)
        deadline = now + self._timeout
        chunks: list[bytes] = []
        for index in range(start, start + count):
            pdu = batch.pdus[index]
            try:
                if isinstance(pdu, bytes):  # a one-part message's body, ready
                    sequence, data = self._session.send_submit_body(pdu)
                else:
                    data = self._session.send(pdu)
                    sequence = pdu.sequence_number
                chunks.append(data)
            except SmppEncodeError as exc:
                batch.resolve(index, Rejected(f"cannot be encoded: {exc}"))
                continue
            except LocalProtocolError:  # the session left the bound state meanwhile
                self.accepting = False
                count = index - start
                break
            self.window.add(sequence, (batch, index), deadline)
        if chunks:
            self._stats.parts_sent += len(chunks)
            self._writer.push(b"".join(chunks))
        return count

    async def flushed(self) -> None:
        """Returns once what `take` queued so far is written (never if the connection
        died meanwhile: bound the wait)."""
        await self._writer.flushed()

    # Reading.

    async def _read(self) -> None:
        while True:
            self._drain_events()
            if self._delivered:
                await self._in.send(self._take_delivered())
            data = await self._stream.receive_some(RECEIVE_SIZE)
            self._keepalive.last_read = trio.current_time()
            self._session.receive_data(data)

    def _take_delivered(self) -> list[Delivery]:
        delivered = self._delivered.copy()
        self._delivered.clear()  # the same list: the handler table holds its append
        return delivered

    def _drain_events(self) -> None:
        session = self._session
        while (event := session.next_event()) is not NEED_DATA:
            if type(event) is Frame:  # nearly all: one call fewer a PDU
                self._on_frame(event)
            else:
                self._dispatch(event)

    def _dispatch(self, event: object) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        else:
            log.debug("%s: ignored %s", self.label, type(event).__name__)

    def _on_frame(self, frame: Frame) -> None:
        """A submit_sm_resp or deliver_sm read from its bytes; decoded when it is not the
        plain layout (then handled as any decoded PDU, or refused by the session)."""
        if frame.command_id == SUBMIT_SM_RESP:
            message_id = submit_resp_message_id(frame.data)
            if message_id is not None:
                self._resolve(frame.sequence_number, frame.command_status, message_id)
                return
        else:
            receipt = frame_receipt(frame.data, self._id_base)
            if receipt is not None:
                self._delivered.append(FrameReceipt(frame.sequence_number, receipt))
                return
        self._dispatch(self._session.decode(frame))

    def _on_submit_resp(self, pdu: SubmitSmResp) -> None:
        self._resolve(pdu.sequence_number, pdu.command_status, pdu.message_id)

    def _resolve(self, sequence: int, status: int, message_id: str) -> bool:
        ticket = self.window.pop(sequence)
        if ticket is None:
            self._stats.late_responses += 1
            return False
        if status:
            self._stats.errors.smpp_status(status)
            if classify_status(status) is StatusClass.THROTTLED:
                self._stats.throttled += 1
                self.rate.on_throttled(trio.current_time())
        ticket[0].resolve(ticket[1], part_result(status, message_id, self._id_base))
        self._released()
        return True

    def _released(self) -> None:
        """Window slots were freed: wake submitters, and an unbind waiting for answers."""
        self._changed.notify()
        if self._drained is not None and not len(self.window):
            self._drained.set()

    def _on_nack(self, pdu: GenericNack) -> None:
        sequence, status = pdu.sequence_number, pdu.command_status
        if self._keepalive.answered(sequence):
            return  # the link is alive, whatever it thought of our enquire_link
        if not self._resolve(sequence, status or 0xFF, ""):
            log.warning("%s: generic_nack 0x%08x for sequence %d", self.label,
                        status, sequence)

    def _on_enquire_link(self, pdu: EnquireLink) -> None:
        self._writer.push(self._session.send(response_to(pdu)))

    def _on_link_resp(self, pdu: EnquireLinkResp) -> None:
        self._keepalive.answered(pdu.sequence_number)

    def _on_rejected(self, event: SessionRejected) -> None:
        log.warning("%s: refused a PDU from the SMSC: %s", self.label, event.reason)
        self._writer.push(event.data)

    def _on_protocol_error(self, event: ProtocolError) -> None:
        raise ConnectionLost(f"unreadable data from the SMSC: {event.reason}")

    def _on_closed(self, event: ConnectionClosed) -> None:
        raise ConnectionLost("the SMSC closed the connection")

    # The SMSC unbinds: stop sending, let outstanding answers arrive, answer, close.

    def _on_unbind(self, pdu: Unbind) -> None:
        self.accepting = False
        self._changed.notify()
        if self.end_reason:  # unbinding ourselves already: both sides agree, answer now
            self._writer.push(self._session.send(response_to(pdu)))
            self._unbound.set()
            return
        assert self._nursery is not None
        self._nursery.start_soon(self._guard, partial(self._answer_unbind, pdu))

    async def _answer_unbind(self, pdu: Unbind) -> None:
        if len(self.window):
            self._drained = trio.Event()
            with trio.move_on_after(min(self._timeout, GOODBYE_S)):
                await self._drained.wait()
        self._writer.push(self._session.send(response_to(pdu)))
        await self._writer.flushed()
        raise ConnectionLost("the SMSC unbound")

    # Timers.

    async def _expire(self) -> None:
        while True:
            deadline = self.window.next_deadline()
            await trio.sleep_until(trio.current_time() + self._timeout if deadline is None
                                   else deadline)
            expired = self.window.expire(trio.current_time())
            for batch, index in expired:
                batch.resolve(index, NO_RESPONSE)
            if expired:
                self._stats.timeouts += len(expired)
                self._stats.errors.count(TIMEOUT, len(expired))
                self._released()
                log.warning("%s: %d submit_sm unanswered within %g s (fate unknown: resending "
                            "may duplicate)", self.label, len(expired), self._timeout)

    # Deliveries.

    async def _deliver(self) -> None:
        queue = self._in_queue
        slots = trio.Semaphore(DELIVERY_BATCHES)
        async with trio.open_nursery() as nursery:
            while True:
                pdus = await queue.receive()
                await slots.acquire()
                while True:  # whatever queued while waiting for a slot joins this batch
                    try:
                        pdus.extend(queue.receive_nowait())
                    except trio.WouldBlock:
                        break
                nursery.start_soon(self._handle_deliveries, pdus, self._handler.arrived(),
                                   slots)

    async def _handle_deliveries(self, pdus: list[Delivery], ticket: int,
                                 slots: trio.Semaphore) -> None:
        """One batch. A link error ends the connection here, as `_guard` does for the
        connection's tasks: raised from this nested nursery it would come out wrapped in an
        exception group, which `_guard` does not catch."""
        try:
            statuses = await self._handler.handle(pdus, ticket)
            self._answer(pdus, statuses)
        except LINK_ERRORS as exc:
            self._end(f"{type(exc).__name__}: {exc}")
        finally:
            slots.release()

    def _answer(self, pdus: list[Delivery], statuses: list[int]) -> None:
        if self._session.state is State.CLOSED:
            # The connection ended while they were being recorded: unanswered, the SMSC
            # sends them again (over another bind, or after the reconnect); recording a
            # receipt twice is harmless (counted repeated).
            return
        # deliver_sm_resp changes no session state: framed here, without the PDU.
        self._writer.push(b"".join([
            encode_message_id_resp(DELIVER_SM_RESP, pdu.sequence_number, status, b"")
            for pdu, status in zip(pdus, statuses, strict=True)]))

    # Shutting down: unbind, reading until unbind_resp; deliveries are answered "later".

    async def _goodbye(self) -> None:
        if self._writer.interrupted or self._session.state not in BOUND:
            return  # a write was cut short: the stream cannot be trusted any more
        with trio.move_on_after(min(self._timeout, GOODBYE_S)):
            try:
                await self._writer.write_now(self._session.send(Unbind()))
                while not self._unbound.is_set():
                    await self._goodbye_read()
            except (ConnectionLost, *LINK_ERRORS) as exc:
                log.debug("%s: unbind cut short: %s", self.label, exc)

    async def _goodbye_read(self) -> None:
        data = await self._stream.receive_some(RECEIVE_SIZE)
        self._session.receive_data(data)
        self._drain_events()
        delivered = self._take_delivered()
        if delivered:
            self._answer(delivered, [TRY_LATER] * len(delivered))
        await self._writer.write_now()
