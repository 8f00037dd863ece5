"""One SMPP connection as a sans-IO state machine, for either end (the h11 shape).

    session = Session(Role.ESME)
    wire.write(session.send(BindTransceiver(system_id="x", password="y")))
    session.receive_data(wire.read())          # b"" means the peer closed
    while (event := session.next_event()) is not NEED_DATA: ...

Events are the received PDUs themselves (match responses to requests by
sequence_number: `send` writes the one it assigned into the PDU), plus:
- Frame: a PDU of one of the commands the session was told to leave `raw`, past the same
  state checks but not decoded (a hot path reads the few fields it needs from the bytes,
  and hands the frame to `decode` when they are not the plain layout);
- Rejected: a PDU from the peer this session refused; its `data` (generic_nack, or the
  request's response with ESME_RINVBNDSTS / ESME_RALYBND) must be sent to the peer;
- ProtocolError: the byte stream cannot be framed any more; close the connection;
- ConnectionClosed: the peer closed (after every complete PDU was returned).
Nothing the peer sends makes this module raise; what this side sends out of turn raises
LocalProtocolError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final, Literal, NamedTuple

from dispatch.smpp.codec import HEADER, decode_framed, encode_pdu
from dispatch.smpp.constants import (
    HEADER_SIZE,
    MAX_SEQUENCE,
    RESPONSE_BIT,
    CommandId,
    Status,
    command_name,
)
from dispatch.smpp.errors import LocalProtocolError, SmppDecodeError
from dispatch.smpp.fast import encode_frame
from dispatch.smpp.pdu import GenericNack, Pdu, response_to

DEFAULT_MAX_PDU_SIZE: Final = 64 * 1024
_LENGTH: Final = struct.Struct(">I")


class Role(StrEnum):
    ESME = "esme"  # the client: binds, submits
    SMSC = "smsc"  # the server: accepts binds, delivers


class State(StrEnum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"
    CLOSED = "closed"


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _Sentinel.NEED_DATA


@dataclass(frozen=True, slots=True)
class Rejected:
    command_id: int
    sequence_number: int
    reply: Pdu
    data: bytes  # send this to the peer
    reason: str


@dataclass(frozen=True, slots=True)
class ProtocolError:
    reason: str  # the connection must be closed


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    pending_octets: int = 0  # octets of an incomplete PDU left when the peer closed


class Frame(NamedTuple):
    """A whole PDU left undecoded (see the module's docstring); a tuple: cheap to make."""

    command_id: int
    command_status: int
    sequence_number: int
    data: bytes  # the PDU, header included


Event = Pdu | Frame | Rejected | ProtocolError | ConnectionClosed

_BINDS: Final = {
    CommandId.BIND_TRANSMITTER: State.BOUND_TX,
    CommandId.BIND_RECEIVER: State.BOUND_RX,
    CommandId.BIND_TRANSCEIVER: State.BOUND_TRX,
}
_BOUND: Final = frozenset(_BINDS.values())
_LINK: Final = frozenset({CommandId.ENQUIRE_LINK, CommandId.UNBIND})

# Requests each role may send in each state; what one role may send, the other may receive.
_ALLOWED: Final[dict[tuple[Role, State], frozenset[int]]] = {
    (Role.ESME, State.OPEN): frozenset({*_BINDS, CommandId.ENQUIRE_LINK}),
    (Role.ESME, State.BOUND_TX): _LINK | {CommandId.SUBMIT_SM},
    (Role.ESME, State.BOUND_RX): _LINK,
    (Role.ESME, State.BOUND_TRX): _LINK | {CommandId.SUBMIT_SM},
    (Role.SMSC, State.OPEN): frozenset({CommandId.ENQUIRE_LINK}),
    (Role.SMSC, State.BOUND_TX): _LINK,
    (Role.SMSC, State.BOUND_RX): _LINK | {CommandId.DELIVER_SM},
    (Role.SMSC, State.BOUND_TRX): _LINK | {CommandId.DELIVER_SM},
}
_NOTHING: Final[frozenset[int]] = frozenset()
_SUBMIT_SM: Final = int(CommandId.SUBMIT_SM)


class Session:
    def __init__(self, role: Role, *, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
                 first_sequence: int = 1, raw: frozenset[int] = frozenset()) -> None:
        """`raw`: command ids received as Frame events (see the module's docstring)."""
        self.role = role
        self._raw = raw
        self.peer_role = Role.SMSC if role is Role.ESME else Role.ESME
        self.max_pdu_size = max_pdu_size
        self._next_sequence = first_sequence
        self._buffer = bytearray()
        self._peer_closed = False
        self._error: ProtocolError | None = None
        self._bind_pending: int | None = None  # command id of a bind awaiting its response
        self._unbinding = False  # an unbind was sent or received: its response unbinds
        self._enter(State.OPEN)

    def _enter(self, state: State) -> None:
        self.state = state
        # Looked up once per state change rather than once per PDU.
        self._may_send = _ALLOWED.get((self.role, state), _NOTHING)
        self._may_receive = _ALLOWED.get((self.peer_role, state), _NOTHING)
        self._bound = state in _BOUND

    # Receiving.

    def receive_data(self, data: bytes) -> None:
        """Feed what the socket gave; b"" means the peer closed its side."""
        if not data:
            self._peer_closed = True
        elif self._peer_closed:
            raise LocalProtocolError("data received after the peer closed")
        else:
            self._buffer += data

    def next_event(self) -> Event | Literal[_Sentinel.NEED_DATA]:
        # The hot path first, in one call: a whole raw PDU the state allows (what the
        # general path below would return as a Frame too).
        buffer = self._buffer
        if len(buffer) >= HEADER_SIZE and self._error is None:
            length, command_id, status, sequence = HEADER.unpack_from(buffer)
            if command_id in self._raw and HEADER_SIZE <= length <= len(buffer) \
                    and length <= self.max_pdu_size \
                    and (command_id & RESPONSE_BIT or command_id in self._may_receive):
                frame = bytes(buffer[:length])
                del buffer[:length]
                return Frame(command_id, status, sequence, frame)
        return self._next_general_event()

    def _next_general_event(self) -> Event | Literal[_Sentinel.NEED_DATA]:
        if self._error is not None:
            return self._error
        frame = self._next_frame()
        if not isinstance(frame, bytes):
            return frame
        return self._on_frame(frame)

    def _next_frame(self) -> bytes | ProtocolError | ConnectionClosed | Literal[
            _Sentinel.NEED_DATA]:
        buffer = self._buffer
        if len(buffer) >= 4:
            length = _LENGTH.unpack_from(buffer)[0]
            if not HEADER_SIZE <= length <= self.max_pdu_size:
                return self._fail(f"command_length {length} outside {HEADER_SIZE}.."
                                  f"{self.max_pdu_size}: the stream cannot be framed")
            if len(buffer) == length:  # the common case: a read ends with a PDU
                frame = bytes(buffer)
                buffer.clear()
                return frame
            if len(buffer) > length:
                with memoryview(buffer) as view:
                    frame = bytes(view[:length])
                del buffer[:length]
                return frame
        if self._peer_closed:
            self._enter(State.CLOSED)
            return ConnectionClosed(len(buffer))
        return NEED_DATA

    def _fail(self, reason: str) -> ProtocolError:
        self._error = ProtocolError(reason)
        self._enter(State.CLOSED)
        return self._error

    def _on_frame(self, frame: bytes) -> Event:
        _, command_id, status, sequence = HEADER.unpack_from(frame)
        # A raw response changes no state (binds and unbind are never raw); a raw request
        # must be one the peer may send now, as a decoded one.
        if command_id in self._raw and (command_id & RESPONSE_BIT
                                        or command_id in self._may_receive):
            return Frame(command_id, status, sequence, frame)
        return self._decoded(frame, command_id, status, sequence)

    def decode(self, frame: Frame) -> Event:
        """The event a raw frame would have been without `raw`: the PDU, or Rejected."""
        return self._decoded(frame.data, frame.command_id, frame.command_status,
                             frame.sequence_number)

    def _decoded(self, frame: bytes, command_id: int, status: int, sequence: int) -> Event:
        try:
            pdu = decode_framed(frame, command_id, status, sequence)
        except SmppDecodeError as exc:
            return self._reject(GenericNack(sequence, exc.status), command_id, str(exc))
        if pdu.is_response:
            self._after_response(pdu, self._bind_pending if self.role is Role.ESME else None)
            return pdu
        return self._check_request(pdu)

    def _check_request(self, pdu: Pdu) -> Event:
        command_id = pdu.command_id
        if command_id in _BINDS and self.role is Role.SMSC and (
                self._bound or self._bind_pending is not None):
            return self._reject(response_to(pdu, Status.ESME_RALYBND), command_id,
                                f"{command_name(command_id)} on a session already bound")
        if command_id not in self._may_receive:
            return self._reject(response_to(pdu, Status.ESME_RINVBNDSTS), command_id,
                                f"{command_name(command_id)} from the {self.peer_role} "
                                f"is not allowed in state {self.state}")
        if command_id in _BINDS:
            self._bind_pending = command_id
        elif command_id == CommandId.UNBIND:
            self._unbinding = True
        return pdu

    def _reject(self, reply: Pdu, command_id: int, reason: str) -> Rejected:
        return Rejected(command_id, reply.sequence_number, reply, encode_pdu(reply), reason)

    # Sending.

    def send(self, pdu: Pdu) -> bytes:
        """The bytes of `pdu`; a request gets the next sequence number, written into it."""
        if pdu.command_id == _SUBMIT_SM and _SUBMIT_SM in self._may_send:
            # The hot path (one a message): what the general path below does for it.
            pdu.sequence_number = self.next_sequence()
            return encode_pdu(pdu)
        if self.state is State.CLOSED:
            raise LocalProtocolError(f"cannot send {command_name(pdu.command_id)}: closed")
        if pdu.is_response:
            data = encode_pdu(pdu)
            self._after_response(pdu, self._bind_pending if self.role is Role.SMSC else None)
            return data
        self._check_sendable(pdu.command_id)
        pdu.sequence_number = self.next_sequence()
        data = encode_pdu(pdu)
        if pdu.command_id in _BINDS:
            self._bind_pending = pdu.command_id
        elif pdu.command_id == CommandId.UNBIND:
            self._unbinding = True
        return data

    def send_submit_body(self, body: bytes) -> tuple[int, bytes]:
        """A submit_sm around a body encoded already (fast.SubmitBodies): its sequence
        number and bytes; LocalProtocolError where `send` would raise it."""
        if _SUBMIT_SM not in self._may_send:
            if self.state is State.CLOSED:
                raise LocalProtocolError("cannot send submit_sm: closed")
            self._check_sendable(_SUBMIT_SM)
        sequence = self.next_sequence()
        return sequence, encode_frame(_SUBMIT_SM, sequence, body)

    def _check_sendable(self, command_id: int) -> None:
        if command_id not in self._may_send:
            raise LocalProtocolError(f"the {self.role} may not send {command_name(command_id)} "
                                     f"in state {self.state}")
        if command_id in _BINDS and self._bind_pending is not None:
            raise LocalProtocolError("a bind is already waiting for its response")

    def next_sequence(self) -> int:
        """Allocate a sequence number: 1 .. 0x7FFFFFFF, then 1 again."""
        sequence = self._next_sequence
        self._next_sequence = 1 if sequence >= MAX_SEQUENCE else sequence + 1
        return sequence

    # State changes caused by responses, whichever side sends them.

    def _after_response(self, pdu: Pdu, bind_pending: int | None) -> None:
        command_id = pdu.command_id
        if bind_pending is not None and command_id == bind_pending | RESPONSE_BIT:
            self._bind_pending = None
            if pdu.command_status == Status.ESME_ROK:
                self._enter(_BINDS[CommandId(bind_pending)])
        elif command_id == CommandId.UNBIND_RESP and self._unbinding \
                and self.state is not State.CLOSED:
            # Only the answer to an unbind: a stray unbind_resp leaves the bind as it is
            # (the simulator went on delivering to a session it took for unbound).
            self._unbinding = False
            self._enter(State.UNBOUND)

    def close(self) -> None:
        """This side closed the connection: nothing more may be sent."""
        self._enter(State.CLOSED)
