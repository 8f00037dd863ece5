"""Fuzzing the SMPP codec: any bytes decode to a PDU or raise SmppDecodeError, nothing
else; what decodes survives a round trip; what encodes decodes to itself, and what cannot
go on the wire raises SmppEncodeError, nothing else."""

from __future__ import annotations

import struct
from typing import Final

from hypothesis import example, given
from hypothesis import strategies as st

from dispatch.smpp import Pdu, SmppDecodeError, SmppEncodeError, decode_pdu, encode_pdu
from dispatch.smpp.constants import HEADER_SIZE
from dispatch.smpp.pdu import Tlvs

from .profiles import fed, fuzz, mutants
from .strategies import COMMAND_IDS, HEADER_WORDS, HUGE_FIELD, VALID_PDUS, WILD_PDUS

HEADER: Final = struct.Struct(">IIII")
SEEDS: Final = st.integers(0, 2**32 - 1)


def decodes_or_refuses(frame: bytes) -> Pdu | None:
    """The PDU, or None after SmppDecodeError (with a message and a status for the nack).
    A decoded PDU encodes again, to bytes that decode to the same PDU."""
    try:
        pdu = decode_pdu(frame)
    except SmppDecodeError as exc:
        assert len(str(exc).splitlines()) == 1
        assert 0 <= exc.status <= 0xFFFFFFFF
        return None
    assert decode_pdu(encode_pdu(pdu)) == pdu
    return pdu


@fuzz(weight=4)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=10), SEEDS)
def test_arbitrary_bytes_decode_or_raise_the_decode_error(frames: list[bytes], seed: int
                                                          ) -> None:
    frames += mutants(frames[0], seed)
    fed("smpp.decode.bytes", len(frames))
    for frame in frames:
        decodes_or_refuses(frame)


@fuzz(weight=4)
@given(HEADER_WORDS, COMMAND_IDS, HEADER_WORDS, HEADER_WORDS, st.binary(max_size=300),
       st.booleans())
@example(0xFFFFFFFF, 4, 0, 1, b"", False)
@example(HEADER_SIZE + HUGE_FIELD, 4, 0, 1, b"\0" * 30 + b"\x04\x24\xff\xff" * 4, True)
def test_any_header_and_body_decode_or_raise_the_decode_error(
    length: int, command_id: int, status: int, sequence: int, body: bytes, true_length: bool,
) -> None:
    """command_length as given (up to 2**32 - 1) or the true one, so that bodies reach
    the field decoders."""
    fed("smpp.decode.header+body")
    if true_length:
        length = HEADER_SIZE + len(body)
    pdu = decodes_or_refuses(HEADER.pack(length, command_id, status, sequence) + body)
    if pdu is not None:
        assert (pdu.command_id, pdu.command_status, pdu.sequence_number) == (
            command_id, status, sequence)


def test_a_ten_megabyte_pdu_decodes_or_is_refused() -> None:
    """A body of 10 MB: a TLV stream of 161 TLVs of 65,535 octets each, then junk."""
    tlv = b"\x14\x00\xff\xff" + b"\xab" * 0xFFFF
    body = b"\0" * 17 + tlv * -(-HUGE_FIELD // len(tlv)) + b"\x01"  # 17: up to sm_length
    frame = HEADER.pack(HEADER_SIZE + len(body), 4, 0, 1) + body
    assert len(frame) >= HUGE_FIELD
    fed("smpp.decode.10mb")
    assert decodes_or_refuses(frame) is None  # one octet stray after the last TLV


# Mutations of a valid PDU's bytes, each (kind, position, value).
_MUTATION = st.tuples(
    st.sampled_from(["set", "insert", "delete", "truncate", "header", "repeat", "extend"]),
    st.integers(0, 400), st.integers(0, 0xFFFFFFFF), st.binary(min_size=1, max_size=8))


def mutate(wire: bytes, mutations: list[tuple[str, int, int, bytes]], fix_length: bool
           ) -> bytes:
    data = bytearray(wire)
    for kind, position, value, octets in mutations:
        at = position % (len(data) + 1)
        if kind == "set" and data:
            data[at % len(data)] = value & 0xFF
        elif kind == "insert":
            data[at:at] = octets
        elif kind == "delete":
            del data[at : at + 1 + value % 8]
        elif kind == "truncate":
            del data[at:]
        elif kind == "header" and len(data) >= HEADER_SIZE:
            word = position % 4
            struct.pack_into(">I", data, 4 * word, value)
        elif kind == "repeat":
            data[at:at] = data[at : at + 1 + value % 16]
        elif kind == "extend":
            data += octets * (1 + value % 64)
    if fix_length and len(data) >= 4:
        struct.pack_into(">I", data, 0, len(data))
    return bytes(data)


@fuzz(weight=4)
@given(VALID_PDUS, st.lists(_MUTATION, min_size=1, max_size=6), st.booleans(), SEEDS)
def test_mutated_valid_pdus_decode_or_raise_the_decode_error(
    pdu: Pdu, mutations: list[tuple[str, int, int, bytes]], fix_length: bool, seed: int,
) -> None:
    wire = encode_pdu(pdu)
    frames = [mutate(wire, mutations, fix_length), *mutants(wire, seed)]
    fed("smpp.decode.mutated", len(frames))
    for frame in frames:
        if fix_length and len(frame) >= 4:
            frame = struct.pack(">I", len(frame)) + frame[4:]
        decodes_or_refuses(frame)


@fuzz(weight=3)
@given(VALID_PDUS)
def test_valid_pdus_survive_a_round_trip(pdu: Pdu) -> None:
    fed("smpp.roundtrip.valid")
    wire = encode_pdu(pdu)
    assert HEADER.unpack_from(wire)[0] == len(wire)
    assert decode_pdu(wire) == pdu
    assert encode_pdu(decode_pdu(wire)) == wire


@fuzz(weight=3)
@given(WILD_PDUS)
def test_any_field_values_encode_and_round_trip_or_raise_the_encode_error(pdu: Pdu) -> None:
    """Lone surrogates, NULs, over-long strings, out-of-range integers, a 10 MB
    short_message or TLV: SmppEncodeError; whatever encodes decodes to the same PDU."""
    fed("smpp.encode.wild")
    try:
        wire = encode_pdu(pdu)
    except SmppEncodeError as exc:
        assert len(str(exc).splitlines()) == 1
        return
    tlvs: Tlvs | None = getattr(pdu, "tlvs", None)
    if tlvs:
        # A C-string TLV with NULs inside goes out as given (the tests emulate broken
        # SMSCs with it); it reads back without its trailing NULs.
        setattr(pdu, "tlvs",  # noqa: B010 - the PDU types with a body have tlvs
                {tag: v.rstrip("\0") if isinstance(v, str) else v for tag, v in tlvs.items()})
    assert decode_pdu(wire) == pdu
