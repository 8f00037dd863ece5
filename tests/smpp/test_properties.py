"""Round trips of every PDU type, and junk that must never raise anything but our error."""

from __future__ import annotations

import struct
from dataclasses import fields
from typing import Any

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
from dispatch.smpp.constants import TLV_KINDS, TlvKind
from dispatch.smpp.pdu import (
    CSTRING,
    PDU_CLASSES,
    SHORT_MESSAGE,
    U8,
    MessageIdResp,
    ShortMessagePdu,
)

# Strategies for valid PDUs, built from the fields' wire metadata.

LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=255)


def _tlv_value(tag: int) -> st.SearchStrategy[Any]:
    kind = TLV_KINDS.get(tag)
    if kind is None or kind is TlvKind.OCTETS:
        return st.binary(max_size=40)
    if kind is TlvKind.CSTRING:
        return st.text(LATIN1_NO_NUL, max_size=30)
    return st.integers(0, (1 << (8 * kind.value)) - 1)


KNOWN_TAGS = sorted(TLV_KINDS)
# Unknown (vendor range) tags, plus known ones: each gets a value of its own type.
TAGS = st.one_of(st.sampled_from(KNOWN_TAGS), st.integers(0x1400, 0x3FFF), st.just(0x0424))
TLVS = st.dictionaries(TAGS, st.none(), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({tag: _tlv_value(tag) for tag in keys}))


def _field_strategy(metadata: Any) -> st.SearchStrategy[Any]:
    if CSTRING in metadata:
        return st.text(LATIN1_NO_NUL, max_size=metadata[CSTRING] - 1)
    if U8 in metadata:
        return st.integers(0, 255)
    if SHORT_MESSAGE in metadata:
        return st.binary(max_size=metadata[SHORT_MESSAGE])
    raise AssertionError(metadata)


def pdus_of(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {
        "sequence_number": st.integers(0, 0xFFFFFFFF),
        "command_status": st.integers(0, 0xFFFFFFFF),
    }
    for f in fields(cls):
        if f.metadata:
            kwargs[f.name] = _field_strategy(f.metadata)
        elif f.name == "tlvs":
            kwargs[f.name] = TLVS
    return st.builds(cls, **kwargs)


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
