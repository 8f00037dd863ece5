"""fast.SubmitBodies and Session.send_submit_body: a one-part message's submit_sm put
together from bytes, held to a SubmitSm encoded by the generic path on random fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.smpp import (
    BindTransceiver,
    BindTransceiverResp,
    LocalProtocolError,
    Role,
    Session,
    SmppEncodeError,
    SubmitSm,
    encode_pdu,
)
from dispatch.smpp.fast import SubmitBodies

TAG = 0x1501
OCTET_OR_NOT = st.integers(0, 300)  # past 255: not an octet, no body can carry it
ADDRESS = st.text(max_size=24) | st.from_regex(r"\A[0-9]{1,20}\Z")


def generic_body(source_ton: int, source_npi: int, dest_ton: int, dest_npi: int,
                 source: str, destination: str, registered: int, data_coding: int,
                 short_message: bytes, value: bytes) -> bytes | None:
    """The body encode_pdu gives the same submit_sm (None: it refuses it)."""
    pdu = SubmitSm(
        0, 0, "", source_ton, source_npi, source, dest_ton, dest_npi, destination, 0, 0, 0,
        "", "", registered, 0, data_coding, 0, short_message, {TAG: value})
    try:
        return encode_pdu(pdu)[16:]
    except SmppEncodeError:
        return None


@given(tons_npis=st.tuples(OCTET_OR_NOT, OCTET_OR_NOT, OCTET_OR_NOT, OCTET_OR_NOT),
       source=ADDRESS, destination=ADDRESS, registered=OCTET_OR_NOT,
       data_coding=OCTET_OR_NOT, short_message=st.binary(max_size=300),
       value=st.binary(max_size=40))
def test_a_body_is_the_generic_encoding_or_none(
        tons_npis: tuple[int, int, int, int], source: str, destination: str, registered: int,
        data_coding: int, short_message: bytes, value: bytes) -> None:
    bodies = SubmitBodies(*tons_npis, TAG)
    body = bodies.body(source, destination, registered, data_coding, short_message, value)
    expected = generic_body(*tons_npis, source, destination, registered, data_coding,
                            short_message, value)
    if body is not None:  # None: the caller builds the SubmitSm instead
        assert body == expected
    # Twice: the second comes from the head remembered for the source.
    assert bodies.body(source, destination, registered, data_coding, short_message,
                       value) == body


@given(source=st.from_regex(r"\A[A-Za-z0-9 ]{1,20}\Z"),
       destination=st.from_regex(r"\A[0-9]{1,20}\Z"), registered=st.integers(0, 255),
       data_coding=st.integers(0, 255), short_message=st.binary(max_size=254),
       value=st.binary(max_size=40))
def test_the_fields_a_client_sends_always_get_a_body(
        source: str, destination: str, registered: int, data_coding: int,
        short_message: bytes, value: bytes) -> None:
    body = SubmitBodies(5, 0, 1, 1, TAG).body(source, destination, registered, data_coding,
                                              short_message, value)
    assert body is not None
    assert body == generic_body(5, 0, 1, 1, source, destination, registered, data_coding,
                                short_message, value)


def test_the_sources_remembered_are_bounded() -> None:
    bodies = SubmitBodies(5, 0, 1, 1, TAG)
    for number in range(SubmitBodies.MAX_SOURCES + 10):
        assert bodies.body(f"S{number}", "33612345678", 1, 0, b"hi", b"r\0") is not None
    assert len(bodies._heads) <= SubmitBodies.MAX_SOURCES


def bound_session() -> Session:
    session = Session(Role.ESME)
    session.send(BindTransceiver(system_id="client", password="secret"))
    session.receive_data(encode_pdu(BindTransceiverResp(1, 0, "smsc")))
    assert isinstance(session.next_event(), BindTransceiverResp)
    return session


def test_a_ready_body_goes_out_as_the_pdu_would_with_the_next_sequence() -> None:
    pdu = SubmitSm(source_addr="DISPATCH", destination_addr="33612345678",
                   registered_delivery=1, short_message=b"Bonjour", tlvs={TAG: b"ref\0"})
    body = SubmitBodies(0, 0, 0, 0, TAG).body("DISPATCH", "33612345678", 1, 0, b"Bonjour",
                                              b"ref\0")
    assert body is not None
    by_pdu, by_body = bound_session(), bound_session()
    for _ in range(3):
        data = by_pdu.send(pdu)
        assert by_body.send_submit_body(body) == (pdu.sequence_number, data)


def test_a_ready_body_is_refused_where_a_submit_sm_would_be() -> None:
    unbound = Session(Role.ESME)
    with pytest.raises(LocalProtocolError, match="may not send submit_sm"):
        unbound.send_submit_body(b"")
    closed = bound_session()
    closed.close()
    with pytest.raises(LocalProtocolError, match="closed"):
        closed.send_submit_body(b"")
    with pytest.raises(LocalProtocolError, match="closed"):
        closed.send(SubmitSm())
