"""Messages to submit_sm PDUs, and answers to outcomes (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.gateways.smpp.batch import PendingBatch
from dispatch.gateways.smpp.submit import (
    NO_RESPONSE,
    REFERENCE_TAG,
    THROTTLED_AFTER_S,
    PartBuilder,
    message_result,
    part_result,
)
from dispatch.settings import GatewaySettings
from dispatch.smpp.pdu import SubmitSm
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry
from tests.smpp.test_submit_bodies import bound_session


def builder(**overrides: object) -> PartBuilder:
    return PartBuilder(GatewaySettings(**overrides), random.Random(0))  # type: ignore[arg-type]


def test_a_short_message_is_one_pdu_with_the_configured_addressing() -> None:
    b = builder(source_ton=1, source_npi=1, dest_ton=1, dest_npi=1, registered_delivery=1)
    parts = b.parts(Outbound("ref", "+33612345678", "33700000000", "ça va ?"))
    assert not isinstance(parts, Rejected)
    [pdu] = parts
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("33700000000", 1, 1)
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == (
        "33612345678", 1, 1)
    assert (pdu.esm_class, pdu.data_coding, pdu.registered_delivery) == (0, 8, 1)  # ç: UCS-2
    assert pdu.short_message == "ça va ?".encode("utf-16-be")
    assert pdu.tlvs == {REFERENCE_TAG: b"ref\0"}


def test_each_field_of_a_pdu_is_where_its_name_says() -> None:
    b = builder(source_ton=5, source_npi=2, dest_ton=1, dest_npi=9, registered_delivery=17)
    [pdu] = b.parts(Outbound("ref", "+33612345678", "DISPATCH", "Bonjour"))  # type: ignore[misc]
    assert pdu == SubmitSm(
        source_addr_ton=5, source_addr_npi=2, source_addr="DISPATCH", dest_addr_ton=1,
        dest_addr_npi=9, destination_addr="33612345678", registered_delivery=17,
        data_coding=0, short_message=b"Bonjour", tlvs={REFERENCE_TAG: b"ref\0"})


def test_parts_share_a_reference_and_ask_a_receipt_on_the_last_only() -> None:
    b = builder(registered_delivery=1)
    parts = b.parts(Outbound("ref", "+33612345678", "ME", "€" * 100))  # 200 septets
    assert not isinstance(parts, Rejected)
    assert [p.registered_delivery for p in parts] == [0, 1]
    assert [p.esm_class for p in parts] == [0x40, 0x40]
    assert parts[0].short_message[:5] == parts[1].short_message[:5]
    assert [p.short_message[5] for p in parts] == [1, 2]
    # An escape pair is never cut: 76 € (152 septets) in the first part.
    assert parts[0].short_message[6:] == b"\x1be" * 76
    assert all(p.tlvs[REFERENCE_TAG] == b"ref\0" for p in parts)
    following = b.parts(Outbound("ref2", "+33612345678", "ME", "x" * 170))
    assert not isinstance(following, Rejected)
    assert following[0].short_message[3] == (parts[0].short_message[3] + 1) % 256


def test_a_message_asking_no_receipt_has_none_on_any_part() -> None:
    b = builder(registered_delivery=1)
    for text in ("short", "€" * 100):  # one part, two parts
        parts = b.parts(Outbound("ref", "+33612345678", "ME", text, receipt=False))
        assert not isinstance(parts, Rejected)
        assert [p.registered_delivery for p in parts] == [0] * len(parts)


@given(text=st.text(max_size=400), receipt=st.booleans(),
       sender=st.sampled_from(["DISPATCH", "33700000000", "", "Société"]),
       to=st.sampled_from(["+33612345678", "+262639123456", "+33 6 12"]))
def test_ready_parts_go_on_the_wire_as_the_pdus_would(
        text: str, receipt: bool, sender: str, to: str) -> None:
    config = {"source_ton": 5, "source_npi": 0, "dest_ton": 1, "dest_npi": 1,
              "registered_delivery": 1, "sender": "BACKUP"}
    message = Outbound("c1-ref", to, sender, text, receipt)
    built, ready = builder(**config).parts(message), builder(**config).ready(message)
    if isinstance(built, Rejected):
        assert ready == built
        return
    assert not isinstance(ready, Rejected)
    # A one-part message comes as its body in bytes; parts of a longer one as PDUs.
    assert [type(part) for part in ready] == [bytes] if len(built) == 1 else [SubmitSm] * len(built)
    by_pdu, by_body = bound_session(), bound_session()
    for pdu, part in zip(built, ready, strict=True):
        data = by_pdu.send(pdu)
        if isinstance(part, bytes):
            assert by_body.send_submit_body(part) == (pdu.sequence_number, data)
        else:
            assert by_body.send(part) == data


@pytest.mark.parametrize(("to", "sender", "reason"), [
    ("+33 6 12", "ME", "destination"), ("+" + "1" * 21, "ME", "destination"),
    ("+33612345678", "x" * 21, "sender"), ("+33612345678", "Société", "sender")])
def test_addresses_smpp_cannot_carry_are_rejected(to: str, sender: str, reason: str) -> None:
    result = builder().parts(Outbound("r", to, sender, "hi"))
    assert isinstance(result, Rejected) and reason in result.reason


def test_plan_spans_map_messages_to_their_pdus() -> None:
    plan = builder().plan([Outbound("a", "+1", "ME", "x" * 300),
                           Outbound("b", "bad", "ME", "x"),
                           Outbound("c", "+2", "ME", "y")])
    assert len(plan.pdus) == 3
    assert plan.spans[0] == (0, 2) and plan.spans[2] == (2, 1)
    assert isinstance(plan.spans[1], Rejected)


@pytest.mark.parametrize(("status", "expected"), [
    (0x00, Accepted("ab12")),
    (0x58, Retry("ESME_RTHROTTLED (0x00000058)", THROTTLED_AFTER_S, counts=False)),
    (0x14, Retry("ESME_RMSGQFUL (0x00000014)", THROTTLED_AFTER_S, counts=False)),
    (0x08, Retry("ESME_RSYSERR (0x00000008)")),
    (0x0401, Retry("vendor 0x00000401 (0x00000401)")),
    (0x0B, Rejected("ESME_RINVDSTADR (0x0000000b)")),
    (0x01, Rejected("ESME_RINVMSGLEN (0x00000001)")),
])
def test_answer_statuses_map_to_outcomes(status: int, expected: object) -> None:
    assert part_result(status, "00AB12" if not status else "", None) == expected


def test_ids_are_normalised_in_the_declared_base() -> None:
    assert part_result(0, "1A2B", 16) == Accepted("6699")
    assert part_result(0, "000123", 10) == Accepted("123")


def test_message_outcome_from_its_parts() -> None:
    ok1, ok2 = Accepted("1"), Accepted("2")
    assert message_result([ok1, ok2]) == ok2
    assert message_result([ok1, Retry("x"), Rejected("no")]) == Rejected("no")
    assert message_result([Retry("x"), ok2]) == Retry("x")
    assert message_result([ok1, None]) == NO_RESPONSE
    assert message_result([Accepted("")]) == Retry("accepted without a message id")


def test_a_message_is_unsent_only_while_none_of_its_parts_was_taken() -> None:
    refused = part_result(0x58, "", None)  # ESME_RTHROTTLED: the SMSC did not take it
    assert isinstance(refused, Retry) and refused.unsent
    whole = message_result([refused, refused])
    assert isinstance(whole, Retry) and whole.unsent
    partly = message_result([Accepted("1"), refused])
    assert isinstance(partly, Retry) and not partly.unsent, "part 1 may be on the phone"
    assert not NO_RESPONSE.unsent


async def test_a_window_takes_whole_messages_when_one_fits() -> None:
    plan = builder().plan([Outbound("a", "+1", "ME", "x" * 300),  # PDUs 0-1
                           Outbound("b", "+2", "ME", "y"),  # PDU 2
                           Outbound("c", "+3", "ME", "z" * 400)])  # PDUs 3-5
    assert plan.starts() == [True, False, True, True, False, False, True]
    batch = PendingBatch(plan.pdus, plan.starts())
    assert batch.whole_messages(0, 1) == 1  # no whole message fits: the part goes
    assert batch.whole_messages(0, 2) == 2
    assert batch.whole_messages(0, 4) == 3  # a, b; not the first part of c
    assert batch.whole_messages(3, 3) == 3
    assert batch.whole_messages(2, 0) == 0
