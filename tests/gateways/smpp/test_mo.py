"""MO decoding and reassembly (pure), and the receipt mapping."""

from __future__ import annotations

import pytest

from dispatch.gateways.smpp.delivery import final_receipt
from dispatch.gateways.smpp.mo import MoAssembler, address
from dispatch.smpp import DeliverSm
from dispatch.smpp.receipts import read_receipt
from dispatch.vocabulary import InboundMessage, Receipt

from .helpers import mo_pdu, receipt_pdu


def test_international_numbers_get_a_plus() -> None:
    assert address("33612345678", 1) == "+33612345678"
    assert address("38123", 3) == "38123"
    assert address("+3361", 1) == "+3361"


def test_single_part_is_complete_at_once() -> None:
    done = MoAssembler("gw").add(mo_pdu("STOP"), 0.0)
    assert done is not None
    assert done.message == InboundMessage("+33612345678", "38123", "STOP", "gw")


def test_parts_complete_in_any_order_and_are_grouped_by_sender() -> None:
    assembler = MoAssembler("gw")
    assert assembler.add(mo_pdu("b", udh=bytes([5, 0, 3, 1, 2, 2])), 0.0) is None
    other = mo_pdu("x", source="33700000000", udh=bytes([5, 0, 3, 1, 2, 1]))
    assert assembler.add(other, 0.0) is None
    done = assembler.add(mo_pdu("a", udh=bytes([5, 0, 3, 1, 2, 1])), 1.0)
    assert done is not None and done.message.text == "ab" and done.sequence == 1
    assert assembler.parts_held == 1


def test_a_ucs2_surrogate_pair_split_across_parts_is_joined_before_decoding() -> None:
    emoji = "😀".encode("utf-16-be")
    first = DeliverSm(source_addr="336", source_addr_ton=1, esm_class=0x40, data_coding=8,
                      short_message=bytes([5, 0, 3, 2, 2, 1]) + emoji[:2])
    second = DeliverSm(source_addr="336", source_addr_ton=1, esm_class=0x40, data_coding=8,
                       short_message=bytes([5, 0, 3, 2, 2, 2]) + emoji[2:])
    assembler = MoAssembler("gw")
    assembler.add(first, 0.0)
    done = assembler.add(second, 0.0)
    assert done is not None and done.message.text == "😀"


def test_put_back_keeps_all_but_the_part_to_be_resent() -> None:
    assembler = MoAssembler("gw")
    assembler.add(mo_pdu("a", udh=bytes([5, 0, 3, 1, 3, 1])), 0.0)
    assembler.add(mo_pdu("b", udh=bytes([5, 0, 3, 1, 3, 2])), 0.0)
    done = assembler.add(mo_pdu("c", udh=bytes([5, 0, 3, 1, 3, 3])), 0.0)
    assert done is not None
    assembler.put_back(done, 0.0)
    assert assembler.parts_held == 2
    again = assembler.add(mo_pdu("c", udh=bytes([5, 0, 3, 1, 3, 3])), 0.0)
    assert again is not None and again.message.text == "abc"


def test_expired_groups_give_what_arrived() -> None:
    assembler = MoAssembler("gw", timeout_s=10)
    assembler.add(mo_pdu("half", udh=bytes([5, 0, 3, 1, 2, 1])), 0.0)
    assert assembler.expire(5.0) == []
    assert [m.text for m in assembler.expire(10.0)] == ["half"]


@pytest.mark.parametrize(("stat", "code"), [
    ("DELIVRD", "d"), ("EXPIRED", "x"), ("UNDELIV", "f"), ("REJECTD", "f"),
    ("DELETED", "f"), ("UNKNOWN", "f"), ("garbage", "f"), ("ENROUTE", None),
    ("ACCEPTD", None)])
def test_receipt_states_map_to_codes(stat: str, code: str | None) -> None:
    found = read_receipt(receipt_pdu("0042", stat=stat, err="007"))
    assert found is not None
    receipt = final_receipt(found)
    if code is None:
        assert receipt is None
    else:
        reason = "receipt delivered" if code == "d" else \
            f"receipt {found.state.name.lower()}, error 007"  # a failure's error is kept
        assert receipt == Receipt("42", code, reason)


def test_a_receipt_without_an_id_is_only_acknowledged() -> None:
    found = read_receipt(receipt_pdu(""))
    assert found is not None and final_receipt(found) is None
