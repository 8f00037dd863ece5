"""The client's raw hot paths: a session handing submit_sm_resp and deliver_sm over
undecoded (Frame), and fast.frame_receipt / submit_resp_message_id reading them, held to
the generic codec and read_receipt on random PDUs and junk."""

from __future__ import annotations

import struct
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.gateways.smpp.connection import RAW_COMMANDS
from dispatch.simulator.smsc.lean.receipts import ReceiptBodies, route, wire_address
from dispatch.smpp import (
    NEED_DATA,
    BindTransceiver,
    BindTransceiverResp,
    ConnectionClosed,
    DeliverSm,
    EnquireLink,
    Frame,
    ProtocolError,
    Rejected,
    Role,
    Session,
    SmppDecodeError,
    Status,
    SubmitSmResp,
    Tag,
    Tlvs,
    decode_pdu,
    encode_pdu,
)
from dispatch.smpp.fast import encode_frame, frame_receipt, submit_resp_message_id
from dispatch.smpp.receipts import MessageState, read_receipt
from tests.fuzz.strategies import LATIN1_NO_NUL, valid_pdus_of
from tests.smpp.test_session import deliver

BASES = st.sampled_from([None, 10, 16])


def bound_session() -> Session:
    session = Session(Role.ESME, raw=RAW_COMMANDS)
    session.send(BindTransceiver(system_id="client", password="secret"))
    session.receive_data(encode_pdu(BindTransceiverResp(1, 0, "smsc")))
    assert isinstance(session.next_event(), BindTransceiverResp)
    return session


def test_raw_commands_come_as_frames_and_decode_to_what_they_would_have_been() -> None:
    session = bound_session()
    resp = encode_pdu(SubmitSmResp(7, 0, "ab12"))
    deliver_sm = encode_pdu(DeliverSm(8, esm_class=0x04,
                                      short_message=b"id:ab12 stat:DELIVRD"))
    frames = deliver(resp + deliver_sm, session)
    assert frames == [Frame(0x80000004, 0, 7, resp), Frame(0x00000005, 0, 8, deliver_sm)]
    assert [session.decode(frame) for frame in frames if isinstance(frame, Frame)] == [
        decode_pdu(resp), decode_pdu(deliver_sm)]


def test_a_raw_request_the_state_forbids_is_refused_as_without_raw() -> None:
    session = Session(Role.ESME, raw=RAW_COMMANDS)  # not bound: no deliver_sm yet
    [event] = deliver(encode_pdu(DeliverSm(3, short_message=b"hello")), session)
    assert isinstance(event, Rejected)
    assert event.reply.command_status == Status.ESME_RINVBNDSTS


def test_a_frame_that_does_not_decode_is_refused_by_decode() -> None:
    session = bound_session()
    junk = struct.pack(">IIII", 20, 0x00000005, 0, 9) + b"\xff\xff\xff\xff"
    [frame] = deliver(junk, session)
    assert isinstance(frame, Frame)
    assert frame_receipt(frame.data, None) is None
    refused = session.decode(frame)
    assert isinstance(refused, Rejected) and refused.sequence_number == 9


def test_the_lean_smscs_receipts_take_the_fast_path() -> None:
    bodies = ReceiptBodies(["delivered", "undeliverable"])
    dates = bodies.dates(time.time(), time.time())
    addresses = route(wire_address(1, 1, "33612345678"), wire_address(5, 0, "DISPATCH"))
    for outcome, state in (("delivered", MessageState.DELIVERED),
                           ("undeliverable", MessageState.UNDELIVERABLE)):
        frame = encode_frame(0x00000005, 4, bodies.body(addresses, b"00af3c", outcome, dates,
                                                        b"Bonjour"))
        fast = frame_receipt(frame, None)
        assert fast is not None and fast.state is state and fast.message_key == "af3c"
        decoded = decode_pdu(frame)
        assert isinstance(decoded, DeliverSm)
        assert fast == read_receipt(decoded)


PLAIN_RECEIPT_TLVS = st.fixed_dictionaries({
    Tag.RECEIPTED_MESSAGE_ID: st.text(LATIN1_NO_NUL, min_size=1, max_size=12)
    | st.sampled_from(["", " ", "00AB12", "ab12", "0x1F"]),
    Tag.MESSAGE_STATE: st.integers(0, 9)},
    optional={Tag.NETWORK_ERROR_CODE: st.binary(max_size=4)})

def test_a_receipt_with_a_network_error_code_takes_the_fast_path() -> None:
    pdu = DeliverSm(9, esm_class=0x04, short_message=b"id:7 stat:UNDELIV err:034", tlvs={
        Tag.RECEIPTED_MESSAGE_ID: "7", Tag.MESSAGE_STATE: 5,
        Tag.NETWORK_ERROR_CODE: b"\x03\x00\x22"})
    fast = frame_receipt(encode_pdu(pdu), None)
    assert fast is not None and fast.network_error == b"\x03\x00\x22"
    assert fast == read_receipt(pdu)


RECEIPT_TLVS = PLAIN_RECEIPT_TLVS | st.dictionaries(
    st.sampled_from([Tag.RECEIPTED_MESSAGE_ID, Tag.MESSAGE_STATE, Tag.NETWORK_ERROR_CODE,
                     Tag.MESSAGE_PAYLOAD]),
    st.one_of(st.text(LATIN1_NO_NUL, max_size=12), st.integers(0, 9),
              st.binary(max_size=3)), max_size=3)


def receipt_like(pdu: DeliverSm, tlvs: dict[int, object], esm_class: int) -> DeliverSm:
    typed: Tlvs = {}
    for tag, value in tlvs.items():
        if tag == Tag.RECEIPTED_MESSAGE_ID:
            typed[tag] = value if isinstance(value, str) else "x1"
        elif tag == Tag.MESSAGE_STATE:
            typed[tag] = value if isinstance(value, int) else 2
        else:
            typed[tag] = value if isinstance(value, bytes) else b"\x03\x00\x01"
    pdu.tlvs, pdu.esm_class = typed, esm_class
    return pdu


@settings(max_examples=1000, deadline=None)
@given(valid_pdus_of(DeliverSm), RECEIPT_TLVS, st.sampled_from([0, 0x04, 0x20, 0x44, 0x40]),
       BASES)
def test_a_fast_receipt_is_what_read_receipt_reads(
        pdu: DeliverSm, tlvs: dict[int, object], esm_class: int, base: int | None) -> None:
    frame = encode_pdu(receipt_like(pdu, tlvs, esm_class))
    fast = frame_receipt(frame, base)
    if fast is None:
        return
    decoded = decode_pdu(frame)
    assert isinstance(decoded, DeliverSm)
    assert fast == read_receipt(decoded, submit_id_base=base)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=120))
def test_a_fast_receipt_of_junk_is_none_or_what_the_generic_codec_reads(body: bytes) -> None:
    frame = struct.pack(">IIII", 16 + len(body), 0x00000005, 0, 1) + body
    fast = frame_receipt(frame, None)
    if fast is None:
        return
    try:
        decoded = decode_pdu(frame)
    except SmppDecodeError as exc:
        raise AssertionError(f"fast path took what the codec refuses: {exc}") from None
    assert isinstance(decoded, DeliverSm)
    assert fast == read_receipt(decoded)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=90), st.integers(0, 0x400))
def test_a_submit_resp_message_id_is_the_decoded_one(body: bytes, status: int) -> None:
    frame = struct.pack(">IIII", 16 + len(body), 0x80000004, status, 1) + body
    fast = submit_resp_message_id(frame)
    if fast is None:
        return
    decoded = decode_pdu(frame)
    assert isinstance(decoded, SubmitSmResp)
    assert fast == decoded.message_id and not decoded.tlvs


@given(st.text(LATIN1_NO_NUL, max_size=64), st.integers(0, 0x400))
def test_every_plain_submit_resp_takes_the_fast_path(message_id: str, status: int) -> None:
    assert submit_resp_message_id(encode_pdu(SubmitSmResp(5, status, message_id))) == \
        message_id


def _every_event(session: Session, chunks: list[bytes]) -> list[object]:
    seen: list[object] = []
    for chunk in [*chunks, b""]:
        session.receive_data(chunk)
        for _ in range(1000):
            event = session.next_event()
            if event is NEED_DATA:
                break
            seen.append(session.decode(event) if isinstance(event, Frame) else event)
            if isinstance(event, ConnectionClosed | ProtocolError):
                return seen
    return seen


PLAIN_PDUS = st.one_of(valid_pdus_of(SubmitSmResp), valid_pdus_of(DeliverSm),
                       valid_pdus_of(EnquireLink)).map(encode_pdu)


@settings(max_examples=500, deadline=None)
@given(st.lists(PLAIN_PDUS | st.binary(max_size=40), max_size=6), st.booleans(),
       st.integers(1, 64))
def test_a_raw_session_gives_what_a_session_without_raw_gives(
        pieces: list[bytes], bind: bool, cut: int) -> None:
    """Frames decoded as the caller would: the same events, in the same order, the same
    states, whatever the bytes and however they are cut."""
    stream = b"".join(pieces)
    chunks = [stream[i:i + cut] for i in range(0, len(stream), cut)]
    plain, raw = Session(Role.ESME, max_pdu_size=4096), \
        Session(Role.ESME, max_pdu_size=4096, raw=RAW_COMMANDS)
    if bind:
        for session in (plain, raw):
            session.send(BindTransceiver(system_id="client", password="secret"))
            session.receive_data(encode_pdu(BindTransceiverResp(1, 0, "smsc")))
            assert isinstance(session.next_event(), BindTransceiverResp)
    assert _every_event(raw, chunks) == _every_event(plain, chunks)
    assert raw.state is plain.state
