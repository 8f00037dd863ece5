"""Fuzzing the SMPP session state machine in both roles, and what each side does with
what it reads: the daemon's ESME (receipts, MO reassembly) and the simulator's SMSC
(SmscConnection's event handling and SmscCore, without sockets: times are passed in).

Whatever the peer sends — valid PDUs in any order, junk, cut frames, command_length up
to 2**32 - 1 — the session returns events and never raises; every request it passes on
is one the state allows; a Rejected carries the bytes of its reply; a ProtocolError
sticks and closes; how the bytes are cut into reads changes nothing.
"""

from __future__ import annotations

import itertools
import random
import struct
from typing import Any, Final, cast

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from dispatch.gateways.smpp.delivery import final_receipt
from dispatch.gateways.smpp.mo import MoAssembler
from dispatch.simulator import SimulatorConfig
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.smsc.connection import SmscConnection
from dispatch.simulator.smsc.core import SmscCore
from dispatch.smpp import (
    NEED_DATA,
    BindTransceiver,
    BindTransmitter,
    ConnectionClosed,
    DeliverSm,
    LocalProtocolError,
    Pdu,
    ProtocolError,
    Rejected,
    Role,
    Session,
    SmppEncodeError,
    State,
    SubmitSm,
    decode_pdu,
    encode_pdu,
)
from dispatch.smpp.constants import RESPONSE_BIT
from dispatch.smpp.receipts import read_receipt
from dispatch.smpp.session import _ALLOWED

from .profiles import fed, fuzz
from .strategies import HEADER_WORDS, VALID_PDUS, WILD_PDUS_SMALL, valid_pdus_of

MAX_PDU: Final = 4096
BINDS: Final = [BindTransmitter, BindTransceiver]


def _as_response(pdu: Pdu, data: st.DataObject) -> Pdu:
    """Now and then a response gets status 0, so that binds succeed and states change."""
    if pdu.is_response and data.draw(st.booleans()):
        pdu.command_status = 0
    return pdu


# What the peer sends: valid PDUs (sequences small, so responses meet their requests),
# junk, a header claiming any length, or a valid PDU cut short.
def _chunk(data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["pdu", "pdu", "pdu", "junk", "header", "cut"]))
    if kind == "junk":
        return data.draw(st.binary(min_size=1, max_size=64))  # b"" would mean closed
    if kind == "header":
        return struct.pack(">I", data.draw(HEADER_WORDS)) + data.draw(st.binary(max_size=24))
    pdu = _as_response(data.draw(VALID_PDUS), data)
    pdu.sequence_number = data.draw(st.integers(0, 4))
    wire = encode_pdu(pdu)
    if kind == "cut":
        return wire[: data.draw(st.integers(1, len(wire)))]
    return wire


def drain(session: Session, events: list[Any]) -> Any:
    """Every event until NEED_DATA or a final one; checks each as it comes."""
    for _ in range(MAX_PDU):
        state = session.state
        event = session.next_event()
        if event is NEED_DATA:
            return event
        events.append(event)
        if isinstance(event, ProtocolError):
            assert session.state is State.CLOSED and event.reason
            assert session.next_event() == event  # it sticks
            return event
        if isinstance(event, ConnectionClosed):
            assert session.state is State.CLOSED
            return event
        if isinstance(event, Rejected):
            assert decode_pdu(event.data) == event.reply
            assert event.reply.sequence_number == event.sequence_number
            assert event.reply.is_response and event.reason
            continue
        assert isinstance(event, Pdu)
        if not event.is_response:  # a request passed on: the state allowed it
            assert event.command_id in _ALLOWED[(session.peer_role, state)]
    raise AssertionError("a session gave more events than its input holds PDUs")


def feed(session: Session, stream: bytes, cuts: list[int]) -> list[Any]:
    events: list[Any] = []
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for start, end in itertools.pairwise(points):
        session.receive_data(stream[start:end])
        if isinstance(drain(session, events), ProtocolError):
            return events
    session.receive_data(b"")
    final = drain(session, events)
    assert isinstance(final, ConnectionClosed | ProtocolError)
    return events


@fuzz(weight=3)
@given(st.sampled_from(list(Role)), st.data(), st.lists(st.integers(0, 10_000), max_size=8))
def test_any_pdu_sequence_gives_events_and_never_raises(
    role: Role, data: st.DataObject, cuts: list[int],
) -> None:
    chunks = [_chunk(data) for _ in range(data.draw(st.integers(1, 12)))]
    stream = b"".join(chunks)
    fed(f"smpp.session.{role}", len(chunks))
    events = feed(Session(role, max_pdu_size=MAX_PDU), stream, cuts)
    # However the reads were cut, the same events.
    assert events == feed(Session(role, max_pdu_size=MAX_PDU), stream, [])


@fuzz(weight=3)
@given(st.sampled_from(list(Role)), st.data())
def test_both_sides_acting_in_any_order_raise_only_local_errors(
    role: Role, data: st.DataObject,
) -> None:
    """This side sends (anything, wild field values too) and reads what the peer sends,
    interleaved: sending raises LocalProtocolError or SmppEncodeError, nothing else;
    reading never raises; a bound state follows a successful bind response."""
    session = Session(role, max_pdu_size=MAX_PDU)
    events: list[Any] = []
    steps = data.draw(st.integers(1, 15))
    fed(f"smpp.session.{role}.interleaved", steps)
    for _ in range(steps):
        if data.draw(st.booleans()):
            pdu = _as_response(data.draw(st.one_of(VALID_PDUS, WILD_PDUS_SMALL)), data)
            before = session.state
            try:
                wire = session.send(pdu)
            except (LocalProtocolError, SmppEncodeError) as exc:
                assert str(exc)
                continue
            assert decode_pdu(wire) == pdu
            if session.state is not before and session.state is not State.UNBOUND:
                # SMSC: it accepted a bind by sending the response.
                assert role is Role.SMSC and pdu.command_id & RESPONSE_BIT
        else:
            before = session.state
            session.receive_data(_chunk(data))
            if isinstance(drain(session, events), ProtocolError):
                return
            bound_now = session.state not in (before, State.UNBOUND, State.CLOSED)
            if bound_now:  # ESME: it read its bind's successful response
                assert role is Role.ESME
                assert any(isinstance(e, Pdu) and e.is_response and e.command_status == 0
                           for e in events)


# --- the ESME side: what the daemon does with each deliver_sm -------------------------

@fuzz(weight=3)
@given(st.lists(valid_pdus_of(DeliverSm), min_size=1, max_size=6),
       st.sampled_from([None, 10, 16]), st.sampled_from([None, 10, 16]))
def test_any_deliver_sm_reads_as_a_receipt_or_an_mo(
    pdus: list[Pdu], submit_base: int | None, text_base: int | None,
) -> None:
    assembler = MoAssembler("fuzz", max_parts=16, timeout_s=5.0)
    fed("smpp.esme.deliver_sm", len(pdus))
    for now, pdu in enumerate(pdus):
        assert isinstance(pdu, DeliverSm)
        receipt = read_receipt(pdu, submit_id_base=submit_base, text_id_base=text_base)
        if receipt is None:
            completed = assembler.add(pdu, float(now))
            if completed is not None:  # what the daemon stores: valid text, no NUL
                message = completed.message
                assert message.gateway == "fuzz" and "\0" not in message.text
                (message.source + message.destination + message.text).encode("utf-8")
            continue
        (receipt.message_id + receipt.message_key + receipt.error).encode("utf-8")
        assert isinstance(receipt.error, str) and isinstance(receipt.fields.stat, str | None)
        found = final_receipt(receipt)
        if found is not None:
            assert found.gateway_id == receipt.message_key != ""
    assert assembler.parts_held <= 16
    assert all(m.gateway == "fuzz" for m in assembler.expire(1e9))


# --- the SMSC side: the simulator's connection and core --------------------------------

def _smsc(accounts: dict[str, str]) -> tuple[SmscConnection, SmscCore]:
    config = SimulatorConfig(smpp_port=0, seed=1, accounts=accounts, receipt_delay_ms=0,
                             mo_rate=1.0)
    core = SmscCore(config, Ledger("fuzz"), {}, random.Random(1))
    stream = cast(trio.abc.HalfCloseableStream, None)  # never used by _process
    return SmscConnection(stream, core), core


def _client_chunk(data: st.DataObject) -> bytes:
    """A client's bytes: binds with the right or a wrong password, submits, acks, junk."""
    kind = data.draw(st.sampled_from(["bind", "pdu", "pdu", "submit", "submit", "other"]))
    if kind == "bind":
        cls = data.draw(st.sampled_from([*BINDS, BindTransceiver]))
        return encode_pdu(cls(data.draw(st.integers(0, 4)), system_id="fuzz",
                              password=data.draw(st.sampled_from(["pw", "wrong"]))))
    if kind == "submit":
        pdu = cast(SubmitSm, data.draw(valid_pdus_of(SubmitSm)))
        pdu.registered_delivery = data.draw(st.sampled_from([0, 1, 2, pdu.registered_delivery]))
        return encode_pdu(pdu)
    return _chunk(data)


@pytest.mark.parametrize("accounts", [{}, {"fuzz": "pw"}], ids=["open", "password"])
@fuzz(weight=2)
@given(st.data())
def test_the_simulated_smsc_answers_any_client_bytes(
    accounts: dict[str, str], data: st.DataObject,
) -> None:
    """SmscConnection._process over any client input: never raises, answers are valid
    PDUs, submits are answered or counted, and it stops reading after a ProtocolError,
    a close or an unbind."""
    connection, core = _smsc(accounts)
    steps = data.draw(st.integers(1, 12))
    fed("smsc.connection", steps)
    now = 0.0
    for _ in range(steps):
        now += data.draw(st.floats(0, 5))
        connection.session.receive_data(_client_chunk(data))
        keep_reading = connection._process(now)
        core.deliveries.release_due(now)
        if connection.system_id:
            core.deliveries.pump(connection.system_id, now)
        for wire in connection._outbox:
            assert decode_pdu(wire).sequence_number >= 0
        if not keep_reading:
            break
    else:
        connection.session.receive_data(b"")
        assert connection._process(now) is False
    counters = core.counters
    assert counters.submit_sm <= steps
    assert counters.binds + counters.bind_failures <= steps
