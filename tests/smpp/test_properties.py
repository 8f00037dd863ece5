"""Round trips of every PDU type, and junk that must never raise anything but our error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.smpp import (
    NEED_DATA,
    ConnectionClosed,
    Pdu,
    ProtocolError,
    Rejected,
    Role,
    Session,
    SmppDecodeError,
    State,
    decode_pdu,
    encode_pdu,
)
from dispatch.smpp.codec import _PLANS, _decode_body, _encode_body
from dispatch.smpp.pdu import (
    PDU_CLASSES,
    MessageIdResp,
    ShortMessagePdu,
)
from tests.fuzz.strategies import valid_pdus_of

# Strategies for valid PDUs, built from the fields' wire metadata (shared with the fuzz
# tests): every known TLV and any other tag, each with a value of its own type.
pdus_of = valid_pdus_of

ANY_PDU = st.sampled_from(sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)).flatmap(pdus_of)


FAST_CLASSES = [c for c in PDU_CLASSES.values() if issubclass(c, ShortMessagePdu | MessageIdResp)]
COMMAND_IDS = [*sorted(PDU_CLASSES), 0x00000003, 0x00000103, 0x80000103, 0xDEADBEEF]


@settings(max_examples=500, deadline=None)
@given(ANY_PDU)
def test_every_pdu_type_survives_a_round_trip(pdu: Pdu) -> None:
    wire = encode_pdu(pdu)
    assert decode_pdu(wire) == pdu
    assert encode_pdu(decode_pdu(wire)) == wire


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.sampled_from(FAST_CLASSES).flatmap(pdus_of))
def test_fast_paths_agree_with_the_generic_codec(pdu: Pdu) -> None:
    plan = _PLANS[pdu.command_id]
    assert plan.fast_encode is not None and plan.fast_decode is not None
    body = _encode_body(pdu, plan)
    assert plan.fast_encode(pdu) == body
    frame = struct.pack(">IIII", 16 + len(body), pdu.command_id, 0, 1) + body
    fast = plan.fast_decode(plan.cls, frame, 1, 0, plan.name)
    assert fast == _decode_body(plan, frame, [1, 0])


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(FAST_CLASSES), st.binary(max_size=120))
def test_fast_paths_accept_no_junk_the_generic_codec_refuses(cls: type[Pdu], body: bytes) -> None:
    plan = _PLANS[cls.command_id]
    assert plan.fast_decode is not None
    frame = struct.pack(">IIII", 16 + len(body), cls.command_id, 0, 1) + body
    try:
        fast = plan.fast_decode(plan.cls, frame, 1, 0, plan.name)
    except SmppDecodeError:
        fast = None  # a bad TLV stream: the generic codec must refuse it too
        with pytest.raises(SmppDecodeError):
            _decode_body(plan, frame, [1, 0])
    if fast is not None:
        assert fast == _decode_body(plan, frame, [1, 0])


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_the_decode_error(data: bytes) -> None:
    _decodes_or_refuses(data)


def _decodes_or_refuses(frame: bytes) -> None:
    """Either SmppDecodeError with a message, or a PDU that survives a round trip."""
    try:
        pdu = decode_pdu(frame)
    except SmppDecodeError as exc:
        assert str(exc)
    else:
        assert decode_pdu(encode_pdu(pdu)) == pdu


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(COMMAND_IDS), st.integers(0, 0xFFFFFFFF), st.binary(max_size=300))
def test_random_bodies_behind_a_valid_header_raise_only_the_decode_error(
    command_id: int, status: int, body: bytes,
) -> None:
    _decodes_or_refuses(struct.pack(">IIII", 16 + len(body), command_id, status, 7) + body)


@settings(deadline=None)  # no wall-clock limits in tests
@given(ANY_PDU, st.data())
def test_corrupting_one_octet_of_a_valid_pdu_raises_only_the_decode_error(
    pdu: Pdu, data: st.DataObject,
) -> None:
    wire = bytearray(encode_pdu(pdu))
    index = data.draw(st.integers(16, max(16, len(wire) - 1)))
    if index < len(wire):
        wire[index] = data.draw(st.integers(0, 255))
    _decodes_or_refuses(bytes(wire))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(list(Role)), st.lists(st.binary(max_size=64), max_size=8),
       st.sampled_from(COMMAND_IDS))
def test_a_session_turns_any_bytes_into_events_and_never_raises(
    role: Role, chunks: list[bytes], command_id: int,
) -> None:
    session = Session(role, max_pdu_size=4096)
    # The junk comes once behind a plausible header (so it reaches the decoders), then raw.
    junk = b"".join(chunks)
    stream = struct.pack(">IIII", 16 + len(junk), command_id, 0, 3) + junk + b"".join(chunks)
    for chunk in (stream[i : i + 37] for i in range(0, len(stream), 37)):
        session.receive_data(chunk)
        _drain(session)
    session.receive_data(b"")
    assert isinstance(_drain(session), ConnectionClosed | ProtocolError)


def _drain(session: Session) -> object:
    for _ in range(1000):
        event = session.next_event()
        if event is NEED_DATA or isinstance(event, ConnectionClosed | ProtocolError):
            if isinstance(event, ProtocolError):
                assert session.state is State.CLOSED
            return event
        assert isinstance(event, Pdu | Rejected)
        if isinstance(event, Rejected):
            assert decode_pdu(event.data) == event.reply
    raise AssertionError("a session produced 1000 events from a few hundred octets")
