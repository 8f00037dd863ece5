"""Two Sessions joined back to back (no socket), and the state table's refusals."""

from __future__ import annotations

import pytest

from dispatch.smpp import (
    NEED_DATA,
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    ConnectionClosed,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Event,
    GenericNack,
    LocalProtocolError,
    Pdu,
    ProtocolError,
    Rejected,
    Role,
    Session,
    SmppEncodeError,
    State,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    decode_pdu,
    encode_pdu,
    response_to,
)


def deliver(data: bytes, to: Session) -> list[Event]:
    to.receive_data(data)
    events: list[Event] = []
    for _ in range(100):
        event = to.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, ProtocolError | ConnectionClosed):
            return events  # both stick: asking again gives the same answer
    raise AssertionError("too many events")


def bound_pair(bind: Pdu) -> tuple[Session, Session]:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    [request] = deliver(esme.send(bind), smsc)
    assert isinstance(request, Pdu)
    deliver(smsc.send(response_to(request)), esme)
    return esme, smsc


def test_bind_submit_receipt_unbind_back_to_back() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)

    [bind] = deliver(esme.send(BindTransceiver(system_id="test", password="pw")), smsc)
    assert bind == BindTransceiver(1, 0, "test", "pw")
    assert (esme.state, smsc.state) == (State.OPEN, State.OPEN)  # until the response
    resp = BindTransceiverResp(bind.sequence_number, system_id="SIM")
    assert deliver(smsc.send(resp), esme) == [resp]
    assert (esme.state, smsc.state) == (State.BOUND_TRX, State.BOUND_TRX)

    submit = SubmitSm(source_addr="MAIRIE", destination_addr="33612345678",
                      registered_delivery=1, short_message=b"Hi")
    [received] = deliver(esme.send(submit), smsc)
    assert received == submit and submit.sequence_number == 2
    [submit_resp] = deliver(smsc.send(SubmitSmResp(received.sequence_number, 0, "ab12")), esme)
    assert isinstance(submit_resp, SubmitSmResp)
    assert (submit_resp.sequence_number, submit_resp.message_id) == (2, "ab12")

    receipt = DeliverSm(source_addr="33612345678", destination_addr="MAIRIE", esm_class=0x04,
                        short_message=b"id:ab12 stat:DELIVRD err:000",
                        tlvs={Tag.RECEIPTED_MESSAGE_ID: "ab12", Tag.MESSAGE_STATE: 2})
    [got] = deliver(smsc.send(receipt), esme)
    assert got == receipt and receipt.sequence_number == 1  # the SMSC numbers its own requests
    assert deliver(esme.send(DeliverSmResp(got.sequence_number)), smsc) == [DeliverSmResp(1)]

    [unbind] = deliver(esme.send(Unbind()), smsc)
    assert unbind == Unbind(3)
    deliver(smsc.send(UnbindResp(unbind.sequence_number)), esme)
    assert (esme.state, smsc.state) == (State.UNBOUND, State.UNBOUND)


def test_responses_are_matched_by_sequence_number_in_any_order() -> None:
    esme, smsc = bound_pair(BindTransmitter())
    sent = [SubmitSm(short_message=bytes([i])) for i in range(3)]
    wire = b"".join(esme.send(pdu) for pdu in sent)  # a window of three outstanding
    requests = deliver(wire, smsc)
    assert [p.sequence_number for p in sent] == [p.sequence_number for p in requests] == [2, 3, 4]
    answers = b"".join(smsc.send(SubmitSmResp(r.sequence_number, 0, f"m{r.sequence_number}"))
                       for r in reversed(requests))
    events = deliver(answers, esme)
    assert {e.sequence_number: e.message_id for e in events} == {  # type: ignore[union-attr]
        2: "m2", 3: "m3", 4: "m4"}


def test_sequence_numbers_wrap_to_one_after_the_maximum() -> None:
    session = Session(Role.ESME, first_sequence=0x7FFFFFFE)
    assert [session.next_sequence() for _ in range(3)] == [0x7FFFFFFE, 0x7FFFFFFF, 1]


def test_frames_split_across_reads_are_reassembled() -> None:
    esme, smsc = bound_pair(BindTransmitter())
    wire = esme.send(SubmitSm(short_message=b"x" * 100)) + esme.send(EnquireLink())
    events: list[Event] = []
    for i in range(len(wire)):
        events += deliver(wire[i : i + 1], smsc)
    assert [type(e) for e in events] == [SubmitSm, EnquireLink]


def test_submit_before_bind_gets_invalid_bind_status() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    with pytest.raises(LocalProtocolError, match="may not send submit_sm in state open"):
        esme.send(SubmitSm())
    wire = encode_pdu(SubmitSm(sequence_number=5))  # a peer that does it anyway
    [event] = deliver(wire, smsc)
    assert isinstance(event, Rejected)
    assert event.reply == SubmitSmResp(5, Status.ESME_RINVBNDSTS)
    assert decode_pdu(event.data) == event.reply
    assert "submit_sm from the esme is not allowed in state open" in event.reason


def test_submit_on_a_receiver_bind_is_refused() -> None:
    _, smsc = bound_pair(BindReceiver())
    [event] = deliver(encode_pdu(SubmitSm(sequence_number=8)), smsc)
    assert isinstance(event, Rejected)
    assert event.reply == SubmitSmResp(8, Status.ESME_RINVBNDSTS)


def test_deliver_sm_to_a_transmitter_bind_is_refused() -> None:
    esme, _ = bound_pair(BindTransmitter())
    [event] = deliver(encode_pdu(DeliverSm(sequence_number=4)), esme)
    assert isinstance(event, Rejected)
    assert event.reply == DeliverSmResp(4, Status.ESME_RINVBNDSTS)


def test_second_bind_gets_already_bound() -> None:
    _, smsc = bound_pair(BindTransceiver())
    [event] = deliver(encode_pdu(BindTransceiver(sequence_number=9)), smsc)
    assert isinstance(event, Rejected)
    assert event.reply == BindTransceiverResp(9, Status.ESME_RALYBND)
    assert smsc.state is State.BOUND_TRX


def test_bind_while_a_bind_is_pending_gets_already_bound() -> None:
    smsc = Session(Role.SMSC)
    [first] = deliver(encode_pdu(BindTransmitter(sequence_number=1)), smsc)
    [second] = deliver(encode_pdu(BindReceiver(sequence_number=2)), smsc)
    assert isinstance(first, BindTransmitter)
    assert isinstance(second, Rejected) and second.reply.command_status == Status.ESME_RALYBND


def test_esme_cannot_send_a_second_bind_while_one_is_pending() -> None:
    esme = Session(Role.ESME)
    esme.send(BindTransmitter())
    with pytest.raises(LocalProtocolError, match="already waiting"):
        esme.send(BindReceiver())


def test_failed_bind_leaves_the_session_open_and_allows_another() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    [bind] = deliver(esme.send(BindTransmitter(password="bad")), smsc)
    failed = BindTransmitterResp(bind.sequence_number, Status.ESME_RINVPASWD)
    deliver(smsc.send(failed), esme)
    assert (esme.state, smsc.state) == (State.OPEN, State.OPEN)
    [again] = deliver(esme.send(BindTransmitter(password="good")), smsc)
    assert isinstance(again, BindTransmitter)


def test_enquire_link_is_allowed_before_bind_from_both_sides() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    assert deliver(esme.send(EnquireLink()), smsc) == [EnquireLink(1)]
    assert deliver(smsc.send(EnquireLink()), esme) == [EnquireLink(1)]
    assert deliver(smsc.send(EnquireLinkResp(1)), esme) == [EnquireLinkResp(1)]


def test_unknown_command_gets_generic_nack_invalid_command_id() -> None:
    smsc = Session(Role.SMSC)
    [event] = deliver(bytes.fromhex("00000010 00000103 00000000 0000002A"), smsc)  # data_sm
    assert isinstance(event, Rejected)
    assert event.command_id == 0x103
    assert event.reply == GenericNack(42, Status.ESME_RINVCMDID)
    assert event.data == bytes.fromhex("00000010 80000000 00000003 0000002A")


def test_undecodable_pdu_gets_generic_nack_with_its_sequence_number() -> None:
    smsc = Session(Role.SMSC)
    bad = bytes.fromhex("00000014 00000002 00000000 00000011 61626364")  # system_id w/o NUL
    [event] = deliver(bad, smsc)
    assert isinstance(event, Rejected)
    assert event.reply == GenericNack(0x11, Status.ESME_RINVCMDLEN)
    assert event.command_id == CommandId.BIND_TRANSMITTER
    assert "system_id" in event.reason
    assert smsc.state is State.OPEN  # the session goes on


def test_undecodable_response_is_reported_with_its_sequence_number() -> None:
    esme, _ = bound_pair(BindTransmitter())
    bad = bytes.fromhex("00000015 80000004 00000000 00000002 6100 0427 00")
    [event] = deliver(bad, esme)
    assert isinstance(event, Rejected)
    assert (event.command_id, event.sequence_number) == (CommandId.SUBMIT_SM_RESP, 2)


@pytest.mark.parametrize("length", [0, 15, 64 * 1024 + 1, 0xFFFFFFFF])
def test_impossible_command_length_is_a_protocol_error_that_sticks(length: int) -> None:
    smsc = Session(Role.SMSC)
    [event] = deliver(length.to_bytes(4, "big") + b"\0" * 12, smsc)
    assert isinstance(event, ProtocolError)
    assert str(length) in event.reason
    assert smsc.state is State.CLOSED
    assert smsc.next_event() is event
    with pytest.raises(LocalProtocolError):
        smsc.send(EnquireLink())


def test_peer_closing_gives_connection_closed_after_the_complete_pdus() -> None:
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    smsc.receive_data(esme.send(EnquireLink()) + b"\x00\x00")
    smsc.receive_data(b"")
    assert smsc.next_event() == EnquireLink(1)
    assert smsc.next_event() == ConnectionClosed(pending_octets=2)
    assert smsc.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        smsc.receive_data(b"more")


def test_a_submit_sm_that_cannot_be_encoded_uses_up_its_sequence_number() -> None:
    esme, _ = bound_pair(BindTransmitter())
    with pytest.raises(SmppEncodeError, match="destination_addr"):
        esme.send(SubmitSm(destination_addr="3" * 21))
    sent = SubmitSm(destination_addr="33612345678")
    esme.send(sent)
    assert sent.sequence_number == 3  # the bind took 1, the refused submit_sm 2
    esme.close()
    with pytest.raises(LocalProtocolError, match="closed"):
        esme.send(SubmitSm())


def test_nothing_may_be_sent_after_unbind_or_close() -> None:
    esme, smsc = bound_pair(BindTransmitter())
    [unbind] = deliver(smsc.send(Unbind()), esme)
    deliver(esme.send(UnbindResp(unbind.sequence_number)), smsc)
    with pytest.raises(LocalProtocolError, match="unbound"):
        esme.send(SubmitSm())
    [event] = deliver(encode_pdu(SubmitSm(sequence_number=3)), smsc)
    assert isinstance(event, Rejected)
    esme.close()
    with pytest.raises(LocalProtocolError, match="closed"):
        esme.send(EnquireLinkResp(1))


def test_smsc_may_not_submit_and_esme_may_not_deliver() -> None:
    esme, smsc = bound_pair(BindTransceiver())
    with pytest.raises(LocalProtocolError):
        smsc.send(SubmitSm())
    with pytest.raises(LocalProtocolError):
        esme.send(DeliverSm())
