"""The server's raw hot paths (fast.raw_short_message, only_tlv, encode_message_id_resp,
encode_frame) against the generic codec, on random valid PDUs and on junk."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.smpp import SmppDecodeError, decode_pdu, encode_pdu
from dispatch.smpp.codec import _PLANS, _decode_body
from dispatch.smpp.constants import Status
from dispatch.smpp.fast import (
    encode_frame,
    encode_message_id_resp,
    only_tlv,
    raw_short_message,
)
from dispatch.smpp.pdu import DeliverSm, DeliverSmResp, ShortMessagePdu, SubmitSm, SubmitSmResp
from dispatch.smpp.tlv import decode_tlvs
from tests.fuzz.strategies import LATIN1_NO_NUL, valid_pdus_of

SHORT_MESSAGES = st.sampled_from([SubmitSm, DeliverSm]).flatmap(valid_pdus_of)
TLV_ERRORS = (Status.ESME_RINVOPTPARSTREAM, Status.ESME_RINVPARLEN)


def wire_address(ton: int, npi: int, address: str) -> bytes:
    return bytes((ton, npi)) + address.encode("latin-1") + b"\0"


@settings(deadline=None)
@given(SHORT_MESSAGES)
def test_raw_fields_are_the_generic_codecs(pdu: ShortMessagePdu) -> None:
    frame = encode_pdu(pdu)
    raw = raw_short_message(frame, 16, len(frame))
    assert raw is not None
    source, destination, esm_class, registered, coding, message, tlvs_start = raw
    assert source == wire_address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr)
    assert destination == wire_address(pdu.dest_addr_ton, pdu.dest_addr_npi,
                                       pdu.destination_addr)
    assert (esm_class, registered, coding, message) == (
        pdu.esm_class, pdu.registered_delivery, pdu.data_coding, pdu.short_message)
    assert decode_tlvs(frame, tlvs_start, "test") == pdu.tlvs


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([SubmitSm, DeliverSm]), st.binary(max_size=160))
def test_raw_fields_of_junk_are_none_or_what_the_generic_codec_reads(
        cls: type[ShortMessagePdu], body: bytes) -> None:
    frame = struct.pack(">IIII", 16 + len(body), cls.command_id, 0, 1) + body
    raw = raw_short_message(frame, 16, len(frame))
    if raw is None:
        return
    try:
        pdu = _decode_body(_PLANS[cls.command_id], frame, [1, 0])
    except SmppDecodeError as exc:
        assert exc.status in TLV_ERRORS  # only what follows the fields read may be wrong
        return
    assert isinstance(pdu, ShortMessagePdu)
    assert raw[5] == pdu.short_message
    assert decode_tlvs(frame, raw[6], "test") == pdu.tlvs


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 0xFFFF))
def test_only_tlv_is_the_single_tlv_decode_tlvs_reads(stream: bytes, tag: int) -> None:
    value = only_tlv(stream, 0, len(stream), tag)
    if value is None:
        return
    assert decode_tlvs(stream, 0, "test").keys() == {tag}
    assert stream == struct.pack(">HH", tag, len(value)) + value


@given(st.integers(1, 0x7FFFFFFF), st.sampled_from([0, Status.ESME_RMSGQFUL, 0x0400]),
       st.text(LATIN1_NO_NUL, max_size=64))
def test_message_id_responses_are_the_generic_codecs(sequence: int, status: int,
                                                     message_id: str) -> None:
    for cls in (SubmitSmResp, DeliverSmResp):
        expected = encode_pdu(cls(sequence, status, message_id))
        assert encode_message_id_resp(cls.command_id, sequence, status,
                                      message_id.encode("latin-1")) == expected
        assert decode_pdu(expected) == cls(sequence, status, message_id)


@settings(deadline=None)
@given(SHORT_MESSAGES, st.integers(1, 0x7FFFFFFF))
def test_a_frame_around_a_body_is_the_generic_codecs(pdu: ShortMessagePdu,
                                                     sequence: int) -> None:
    pdu.sequence_number, pdu.command_status = sequence, 0
    wire = encode_pdu(pdu)
    assert encode_frame(pdu.command_id, sequence, wire[16:]) == wire
