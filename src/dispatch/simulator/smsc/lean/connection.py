"""One client of the lean SMSC: PDUs framed straight off the received bytes, answers and
receipts written in one send per round.

The reader handles every whole PDU of what it received with no await: submit_sm through
fast.raw_short_message (the general codec when it is not the plain layout, a long
message, or another TLV than the client's reference), deliver_sm_resp from its header
alone, the rare others (binds, enquire_link, unbind, junk) through the general codec. The
writer sends the answers and the receipts now due, as many as the window allows.

Receipts wait in the connection that submitted their message (FIFO: one delay for all),
or, for a transmitter-only bind or a connection gone, in the server's line of their
system_id (server.py). One sent and not acknowledged within `smpp_receipt_timeout_s`, or
refused, is sent again later, up to `smpp_receipt_attempts` attempts.

Closing: stop reading, answer every request read, send, half-close, drain for at most
LINGER_S, close; receipts not yet acknowledged go to the server's line.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Final

import trio

from dispatch.simulator.config import DELIVERED
from dispatch.simulator.smsc.connection import READ_SIZE, close_after_answers
from dispatch.simulator.smsc.core import (
    REGISTERED_DELIVERY_MASK,
    SMSC_SYSTEM_ID,
    UCS2_CODING,
    authenticate,
)
from dispatch.simulator.smsc.lean.receipts import route, wire_address
from dispatch.simulator.smsc.messages import REFERENCE_TAG
from dispatch.smpp.codec import HEADER, decode_framed, encode_pdu
from dispatch.smpp.constants import (
    HEADER_SIZE,
    MAX_SEQUENCE,
    RESPONSE_BIT,
    CommandId,
    Status,
)
from dispatch.smpp.errors import SmppDecodeError
from dispatch.smpp.fast import encode_frame, encode_message_id_resp, only_tlv, raw_short_message
from dispatch.smpp.pdu import (
    Bind,
    BindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    Unbind,
    UnbindResp,
    response_to,
)
from dispatch.smpp.session import DEFAULT_MAX_PDU_SIZE
from dispatch.smpp.udh import UDHI, message_content

if TYPE_CHECKING:
    from dispatch.simulator.smsc.lean.server import LeanSmsc

log = logging.getLogger(__name__)

SUBMIT_SM: Final = int(CommandId.SUBMIT_SM)
SUBMIT_SM_RESP: Final = int(CommandId.SUBMIT_SM_RESP)
DELIVER_SM: Final = int(CommandId.DELIVER_SM)
DELIVER_SM_RESP: Final = int(CommandId.DELIVER_SM_RESP)
GENERIC_NACK: Final = int(CommandId.GENERIC_NACK)
ON_FAILURE: Final = 2  # registered_delivery: a receipt for a failed message only
RECEIPT_TICK_S: Final = 0.005  # due receipts wait this long at most, to go out together
SWEEP_S: Final = 1.0  # how often unacknowledged receipts are checked for the timeout
BACKLOG: Final = 10_000  # PDUs queued for the writer before the reader waits

# A receipt waiting: (due, deliver_sm body without its header).
Waiting = tuple[float, bytes]


class LeanConnection:
    def __init__(self, stream: trio.abc.HalfCloseableStream, smsc: LeanSmsc) -> None:
        self.stream = stream
        self.smsc = smsc
        self.system_id = ""
        self.transmits = self.receives = False
        self.receipts: deque[Waiting] = deque()  # of the messages submitted here
        self.awaiting: dict[int, Waiting] = {}  # sent, oldest first: sequence -> (when, body)
        self._outbox: list[bytes] = []
        self._answers = 0  # submit_sm_resp among the outbox: read and not yet answered
        self._sequence = 0
        self._wake = trio.Event()
        self._drained = trio.Event()
        self._reading = True
        self._closing = False  # asked to close: stop reading
        self._sending = False  # a send_all in progress (by the reader or the writer)
        self._receive_scope = trio.CancelScope()

    # The connection's life.

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop)
                try:
                    await self._read_loop()
                finally:
                    self._reading = False
                    self._wake.set()
        except* (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away: nothing more can be sent
        finally:
            self.smsc.gone(self, trio.current_time())
        await close_after_answers(self.stream)

    def request_close(self) -> None:
        """Stop reading; what was read is answered (the SMSC is stopping)."""
        self._closing = True
        self._receive_scope.cancel()

    async def _read_loop(self) -> None:
        pending = b""  # the start of a PDU not whole yet
        while True:
            if len(self._outbox) >= BACKLOG:
                self._drained = trio.Event()
                await self._drained.wait()
            data = await self._receive()
            if not data:
                return
            pending = pending + data if pending else data
            now = trio.current_time()
            used = self._handle(pending, now)
            if used < 0:
                return
            pending = pending[used:]
            if not self._sending:
                # Sent from here rather than by waking the writer: one task switch less
                # per read. A client that does not read holds up this reading, as the
                # backlog would.
                if self.receives:
                    self._send_due(now)
                await self._flush()

    async def _receive(self) -> bytes:
        """What the client sent next; b"" once it closed or the SMSC closes."""
        with trio.CancelScope() as self._receive_scope:  # only the wait: never a send
            if not self._closing:
                return bytes(await self.stream.receive_some(READ_SIZE))  # bytes already
        return b""

    # Reading: every whole PDU, no await.

    def _handle(self, data: bytes, now: float) -> int:
        """Handle the whole PDUs at the start of `data`: how many octets they took, or -1
        once the connection must close."""
        offset, size, unpack = 0, len(data), HEADER.unpack_from
        dates = self.smsc.receipt_dates(time.time())
        keep_reading = True  # after an unbind, the rest of what was read is still handled
        awaiting, settled = self.awaiting, []  # receipts acknowledged
        idle = not self.receipts
        while size - offset >= HEADER_SIZE:
            length, command_id, status, sequence = unpack(data, offset)
            if not HEADER_SIZE <= length <= DEFAULT_MAX_PDU_SIZE:
                self.smsc.counters.junk += 1
                log.info("smpp: closing a connection of %r: command_length %d",
                         self.system_id, length)
                return -1
            end = offset + length
            if end > size:
                break
            if command_id == SUBMIT_SM and self.transmits:
                self._submit(data, offset, end, sequence, now, dates)
            elif command_id == DELIVER_SM_RESP and not status:
                sent = awaiting.pop(sequence, None)  # None: late (resent already), not ours
                if sent is not None:
                    settled.append(sent[1])
            elif command_id in (DELIVER_SM_RESP, GENERIC_NACK):
                self._refused(sequence, status or Status.ESME_RSYSERR, now)
            elif not self._other(data[offset:end], command_id, status, sequence):
                keep_reading = False
            offset = end
        if settled:
            self.smsc.settled(settled)
        if idle and self.receipts:
            self._wake.set()  # the writer sleeps with no receipt in view: the first is due
        return offset if keep_reading else -1

    def _submit(self, data: bytes, start: int, end: int, sequence: int, now: float,
                dates: bytes) -> None:
        """`dates`: of the receipts of the messages read at `now`."""
        smsc = self.smsc
        counters = smsc.counters
        counters.submit_sm += 1
        raw = raw_short_message(data, start + HEADER_SIZE, end)
        if raw is None:
            self._submit_decoded(data[start:end], sequence, now, dates)
            return
        source, destination, esm_class, registered, coding, message, tlvs_start = raw
        # The three checks at once first: most submit_sm pass them all.
        if smsc.lines is not None or self._answers >= smsc.window or len(destination) == 3:
            refusal = self._refusal(source, destination, now)
            if refusal:
                self._answer(sequence, refusal)
                return
        reference = None if esm_class & UDHI \
            else only_tlv(data, tlvs_start, end, REFERENCE_TAG)
        if reference:
            reference = reference.rstrip(b"\0")  # as messages.client_reference reads it
        if not reference:
            # A long message, other TLVs, or no reference: the ledger's general rules.
            self._submit_decoded(data[start:end], sequence, now, dates)
            return
        outcome = smsc.pick_outcome()
        smsc.ledger.record(reference.decode("latin-1"))
        self._accepted(sequence, coding, registered, outcome, destination + source, message,
                       now, dates)

    def _submit_decoded(self, frame: bytes, sequence: int, now: float, dates: bytes) -> None:
        """A submit_sm off the hot path, through the general codec and MessageBook."""
        try:
            pdu = decode_framed(frame, SUBMIT_SM, 0, sequence)
        except SmppDecodeError as exc:
            self.smsc.counters.junk += 1
            self._queue(encode_pdu(GenericNack(sequence, exc.status)))
            return
        assert isinstance(pdu, SubmitSm)
        source = wire_address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr)
        destination = wire_address(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)
        refusal = self._refusal(source, destination, now)
        if refusal:
            self._answer(sequence, refusal)
            return
        content = message_content(pdu.esm_class, pdu.short_message, pdu.tlvs)
        outcome = self.smsc.book.accept(pdu, content).outcome
        self._accepted(sequence, pdu.data_coding, pdu.registered_delivery, outcome,
                       route(source, destination), content.payload, now, dates)

    def _refusal(self, source: bytes, destination: bytes, now: float) -> int:
        """The status refusing a submit_sm (0: none), checked in the full SMSC's order."""
        smsc = self.smsc
        counters = smsc.counters
        if smsc.lines is not None and not smsc.lines.allow(source[2:-1].decode("latin-1"),
                                                           now):
            counters.throttled += 1
            counters.line_violations += 1
            return Status.ESME_RTHROTTLED
        if self._answers >= smsc.window:
            counters.queue_full += 1
            return Status.ESME_RMSGQFUL
        if len(destination) == 3:  # ton, npi and the NUL: no address
            counters.rejected_invalid += 1
            return Status.ESME_RINVDSTADR
        return 0

    def _accepted(self, sequence: int, coding: int, registered: int, outcome: str,
                  receipt_route: bytes, payload: bytes, now: float, dates: bytes) -> None:
        """Answer an accepted submit_sm; its receipt, if asked for, goes out along
        `receipt_route` (receipts.route)."""
        smsc = self.smsc
        counters = smsc.counters
        counters.parts += 1
        if coding == UCS2_CODING:
            counters.ucs2_parts += 1
        message_id = smsc.ledger.next_id().encode()
        self._outbox.append(encode_message_id_resp(SUBMIT_SM_RESP, sequence, 0, message_id))
        self._answers += 1
        asked = registered & REGISTERED_DELIVERY_MASK
        if not asked or (asked == ON_FAILURE and outcome == DELIVERED):
            return
        bodies = smsc.bodies
        body = bodies.body(receipt_route, message_id, outcome, dates,
                           bodies.preview(payload, coding))
        smsc.add_receipt(self if self.receives else None, now + smsc.receipt_delay_s,
                         self.system_id, body)

    def _answer(self, sequence: int, status: int, message_id: bytes = b"") -> None:
        self._outbox.append(encode_message_id_resp(SUBMIT_SM_RESP, sequence, status,
                                                   message_id))
        self._answers += 1

    def _refused(self, sequence: int, status: int, now: float) -> None:
        """A deliver_sm_resp with an error `status`, or a generic_nack: the receipt it
        answers is sent again later."""
        sent = self.awaiting.pop(sequence, None)
        if sent is not None:
            self.smsc.retry(self.system_id, sent[1], now)

    def _other(self, frame: bytes, command_id: int, status: int, sequence: int) -> bool:
        """A PDU off the hot path; False once the connection must close."""
        if command_id & RESPONSE_BIT:
            return True  # enquire_link_resp, unbind_resp, stray responses
        counters = self.smsc.counters
        try:
            pdu = decode_framed(frame, command_id, status, sequence)
        except SmppDecodeError as exc:
            counters.junk += 1
            self._queue(encode_pdu(GenericNack(sequence, exc.status)))
            return True
        if isinstance(pdu, Bind):
            self._bind(pdu)
        elif isinstance(pdu, EnquireLink):
            self._queue(encode_pdu(EnquireLinkResp(sequence)))
        elif isinstance(pdu, Unbind):
            counters.unbinds += 1
            self._queue(encode_pdu(UnbindResp(sequence)))
            return False
        else:  # a submit_sm on a receiver or before a bind, a deliver_sm from a client
            counters.invalid_state += 1
            self._queue(encode_pdu(response_to(pdu, Status.ESME_RINVBNDSTS)))
        return True

    def _bind(self, pdu: Bind) -> None:
        smsc = self.smsc
        if self.transmits or self.receives:
            status: int = Status.ESME_RALYBND
        else:
            status = authenticate(smsc.config.accounts, pdu.system_id, pdu.password)
            if status == Status.ESME_ROK:
                smsc.counters.binds += 1
            else:
                smsc.counters.bind_failures += 1
        response = response_to(pdu, status)
        assert isinstance(response, BindResp)
        response.system_id = SMSC_SYSTEM_ID
        self._queue(encode_pdu(response))
        if status == Status.ESME_ROK:
            self.system_id = pdu.system_id
            self.transmits = pdu.command_id != CommandId.BIND_RECEIVER
            self.receives = pdu.command_id != CommandId.BIND_TRANSMITTER
            if self.receives:
                smsc.add_receiver(self)

    def wake(self) -> None:
        """Receipts may wait for this receiver elsewhere: look again."""
        self._wake.set()

    def _queue(self, data: bytes) -> None:
        self._outbox.append(data)
        self._wake.set()

    # Writing: answers, then the receipts due that the window takes.

    async def _write_loop(self) -> None:
        last_sweep = trio.current_time()
        while True:
            now = trio.current_time()
            if self.receives and self._reading:
                self._send_due(now)
                if now - last_sweep >= SWEEP_S:
                    self._expire(now)
                    last_sweep = now
            if self._outbox and not self._sending:
                await self._flush()
                continue
            if not self._reading and not self._sending:
                return
            await self._sleep(self._next_deadline(now, last_sweep))

    async def _flush(self) -> None:
        """Send the outbox, and what is added meanwhile."""
        ledger = self.smsc.ledger
        self._sending = True
        try:
            while self._outbox:
                data = b"".join(self._outbox)
                self._outbox.clear()
                self._answers = 0
                ledger.flush()  # what the answers say taken is in the journal first
                await self.stream.send_all(data)
        finally:
            self._sending = False
        self._drained.set()

    async def _sleep(self, deadline: float) -> None:
        self._wake = trio.Event()
        with trio.move_on_at(deadline):
            await self._wake.wait()

    def _next_deadline(self, now: float, last_sweep: float) -> float:
        deadline = math.inf
        if self.awaiting:
            deadline = last_sweep + SWEEP_S
        if self.receives and len(self.awaiting) < self.smsc.window:
            due = self.smsc.next_due(self)
            if due < math.inf:
                deadline = min(deadline, max(due, now) + RECEIPT_TICK_S)
        return deadline

    def _send_due(self, now: float) -> None:
        free = self.smsc.window - len(self.awaiting)
        if free <= 0:
            return
        due = self.smsc.take_due(self, now, free)
        if not due:
            return
        awaiting, outbox, sequence = self.awaiting, self._outbox, self._sequence
        for body in due:
            sequence = sequence + 1 if sequence < MAX_SEQUENCE else 1
            outbox.append(encode_frame(DELIVER_SM, sequence, body))
            awaiting[sequence] = (now, body)
        self._sequence = sequence

    def _expire(self, now: float) -> None:
        """Send again later the receipts sent more than the timeout ago, unanswered."""
        deadline, awaiting = now - self.smsc.receipt_timeout_s, self.awaiting
        while awaiting:
            sequence, (sent_at, body) = next(iter(awaiting.items()))
            if sent_at > deadline:
                break
            del awaiting[sequence]
            self.smsc.retry(self.system_id, body, now)

    def unacknowledged(self) -> list[bytes]:
        """The receipts sent here and not acknowledged (the connection is gone)."""
        bodies = [body for _, body in self.awaiting.values()]
        self.awaiting.clear()
        return bodies
