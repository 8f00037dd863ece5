"""Byte vectors worked out by hand from SMPP 3.4 (§3.2 header, §4 bodies, §5.3 TLVs)."""

from __future__ import annotations

import pytest

from dispatch.smpp import (
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    SmppDecodeError,
    SmppEncodeError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    decode_pdu,
    encode_pdu,
)


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


RECEIPT_TEXT = (
    b"id:abc123 sub:001 dlvrd:001 submit date:2401151200 done date:2401151201 "
    b"stat:DELIVRD err:000 text:Hi"
)  # 100 octets

VECTORS = [
    (
        BindTransmitter(sequence_number=1, system_id="test", password="pw"),
        # length 29 | bind_transmitter | status | seq 1
        hx("0000001D | 00000002 | 00000000 | 00000001"
           "| 7465737400 | 707700 | 00 | 34 | 00 | 00 | 00"),
        # system_id "test" | password "pw" | system_type "" | version 3.4 | ton | npi | range ""
    ),
    (
        BindTransmitterResp(sequence_number=1, system_id="SMSC",
                            tlvs={Tag.SC_INTERFACE_VERSION: 0x34}),
        hx("0000001A | 80000002 | 00000000 | 00000001 | 534D534300 | 0210 0001 34"),
    ),
    (
        SubmitSm(sequence_number=2, source_addr_ton=5, source_addr="MAIRIE", dest_addr_ton=1,
                 dest_addr_npi=1, destination_addr="33612345678", registered_delivery=1,
                 short_message=b"Hi"),
        hx("00000034 00000004 00000000 00000002"   # 52 octets, submit_sm, seq 2
           "00"                                    # service_type ""
           "05 00 4D414952494500"                  # source_addr_ton 5, npi 0, "MAIRIE"
           "01 01 3333363132333435363738 00"       # dest ton 1, npi 1, "33612345678"
           "00 00 00"                              # esm_class, protocol_id, priority_flag
           "00 00"                                 # schedule_delivery_time, validity_period
           "01 00 00 00"                           # registered_delivery 1, replace, dc, default
           "02 4869"),                             # sm_length 2, "Hi"
    ),
]
VECTORS += [
    (SubmitSmResp(sequence_number=2, message_id="abc123"),
     hx("00000017 80000004 00000000 00000002 61626331323300")),
    (EnquireLink(sequence_number=7), hx("00000010 00000015 00000000 00000007")),
    (GenericNack(sequence_number=9, command_status=Status.ESME_RINVCMDID),
     hx("00000010 80000000 00000003 00000009")),
    (Unbind(sequence_number=3), hx("00000010 00000006 00000000 00000003")),
    (UnbindResp(sequence_number=3), hx("00000010 80000006 00000000 00000003")),
    (DeliverSmResp(sequence_number=5), hx("00000011 80000005 00000000 00000005 00")),
    (
        DeliverSm(sequence_number=5, source_addr_ton=1, source_addr_npi=1,
                  source_addr="33612345678", dest_addr_ton=5, destination_addr="MAIRIE",
                  esm_class=0x04, short_message=RECEIPT_TEXT,
                  tlvs={Tag.RECEIPTED_MESSAGE_ID: "abc123", Tag.MESSAGE_STATE: 2}),
        hx("000000A6 00000005 00000000 00000005"   # 166 octets
           "00"                                    # service_type
           "01 01 3333363132333435363738 00"        # source
           "05 00 4D414952494500"                   # destination
           "04 00 00"                               # esm_class: delivery receipt
           "00 00"
           "00 00 00 00"
           "64") + RECEIPT_TEXT                     # sm_length 100
        + hx("001E 0007 61626331323300"             # receipted_message_id "abc123\0"
             "0427 0001 02"),                       # message_state DELIVERED
    ),
]


@pytest.mark.parametrize(("pdu", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_encode_matches_the_hand_written_bytes(pdu: object, wire: bytes) -> None:
    assert encode_pdu(pdu) == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(("pdu", "wire"), VECTORS, ids=lambda v: type(v).__name__)
def test_decode_of_the_hand_written_bytes(pdu: object, wire: bytes) -> None:
    assert decode_pdu(wire) == pdu


def test_error_response_without_a_body_is_accepted() -> None:
    resp = decode_pdu(hx("00000010 80000004 00000045 00000002"))
    assert resp == SubmitSmResp(sequence_number=2, command_status=Status.ESME_RSUBMITFAIL)


def test_error_response_with_an_empty_message_id_is_accepted() -> None:
    resp = decode_pdu(hx("00000011 80000004 00000058 00000002 00"))
    assert resp == SubmitSmResp(2, Status.ESME_RTHROTTLED, "")


def test_vendor_status_codes_pass_through() -> None:
    resp = decode_pdu(hx("00000010 80000004 00000401 00000002"))
    assert resp.command_status == 0x401
    assert encode_pdu(resp) == hx("00000011 80000004 00000401 00000002 00")


def test_message_id_ended_by_the_pdu_instead_of_a_nul_is_accepted() -> None:
    resp = decode_pdu(hx("00000013 80000004 00000000 00000002 616263"))
    assert resp == SubmitSmResp(2, 0, "abc")


def test_unknown_tlvs_are_kept_and_re_encoded() -> None:
    wire = hx("0000001F 80000004 00000000 00000002 6100"
              "1403 0003 010203"     # vendor tag 0x1403
              "0427 0002 0002")      # message_state with the wrong size: kept raw
    resp = decode_pdu(wire)
    assert resp.tlvs == {0x1403: b"\x01\x02\x03", Tag.MESSAGE_STATE: b"\x00\x02"}
    assert encode_pdu(resp) == wire


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (hx("0000000F 00000015 00000000 000000"), "shorter than its 16-octet header"),
        (hx("00000020 00000015 00000000 00000001"), "command_length 32 but the PDU has 16"),
        (hx("00000010 00000103 00000000 00000001"), "unsupported data_sm"),
        (hx("00000010 12345678 00000000 00000001"), "unsupported command 0x12345678"),
        (hx("00000018 00000002 00000000 00000001 6162636465666768"),
         "bind_transmitter.system_id: no NUL before the end"),
        (hx("00000025 00000002 00000000 00000001") + b"a" * 20 + b"\0",
         "bind_transmitter.system_id: no NUL within 16 octets"),
        (hx("00000014 00000002 00000000 00000001 00000034"),
         "bind_transmitter: the PDU ends before field addr_ton"),
        (hx("00000015 80000004 00000000 00000002 6100 0427 00"),
         "submit_sm_resp: 3 stray octet"),
        (hx("00000019 80000004 00000000 00000002 6100 0427 0009 020304"),
         "TLV 0x0427 claims 9 octets, 3 remain"),
    ],
)
def test_decode_errors_say_what_is_wrong(wire: bytes, message: str) -> None:
    with pytest.raises(SmppDecodeError, match=message):
        decode_pdu(wire)


def test_short_message_longer_than_what_remains() -> None:
    pdu = SubmitSm(short_message=b"Hello")
    wire = bytearray(encode_pdu(pdu))
    wire[-6] = 200  # sm_length
    with pytest.raises(SmppDecodeError, match="sm_length 200 but 5 octets remain") as info:
        decode_pdu(bytes(wire))
    assert info.value.status == Status.ESME_RINVMSGLEN


def test_unsupported_command_answers_invalid_command_id() -> None:
    with pytest.raises(SmppDecodeError) as info:
        decode_pdu(hx("00000010 00000003 00000000 00000001"))
    assert info.value.status == Status.ESME_RINVCMDID


@pytest.mark.parametrize(
    ("pdu", "message"),
    [
        (SubmitSm(source_addr="x" * 21), r"submit_sm\.source_addr: 'x{21}' is longer than 20"),
        (SubmitSm(destination_addr="33\x006"), "destination_addr: .* holds a NUL"),
        (SubmitSm(source_addr="Mairie™"), r"submit_sm\.source_addr: .* is not latin-1"),
        (SubmitSm(esm_class=256),
         r"one of esm_class, protocol_id, priority_flag = \(256, 0, 0\) is not an octet"),
        (SubmitSm(short_message=b"x" * 255), "255 octets, at most 254 .*message_payload"),
        (BindTransmitter(password="123456789"), r"bind_transmitter\.password"),
        (SubmitSmResp(message_id="x" * 65), r"submit_sm_resp\.message_id"),
        (SubmitSm(sequence_number=2**32), "sequence_number 4294967296"),
        (SubmitSm(tlvs={Tag.MESSAGE_STATE: 300}), "TLV 0x0427: 300 does not fit 1 octet"),
        (SubmitSm(tlvs={0x1400: 1}), "TLV 0x1400: not an integer tag"),
        (SubmitSm(tlvs={0x1400: b"x" * 70000}), "TLV 0x1400: tag or length"),
    ],
)
def test_encode_errors_name_the_field(pdu: object, message: str) -> None:
    with pytest.raises(SmppEncodeError, match=message):
        encode_pdu(pdu)  # type: ignore[arg-type]


def test_message_payload_carries_long_text_with_sm_length_zero() -> None:
    payload = b"x" * 1000
    pdu = SubmitSm(tlvs={Tag.MESSAGE_PAYLOAD: payload})
    decoded = decode_pdu(encode_pdu(pdu))
    assert decoded.short_message == b""  # type: ignore[attr-defined]
    assert decoded.tlvs[Tag.MESSAGE_PAYLOAD] == payload  # type: ignore[attr-defined]


def test_stray_body_on_a_header_only_pdu_is_ignored() -> None:
    assert decode_pdu(hx("00000012 00000015 00000000 00000004 0000")) == EnquireLink(4)
