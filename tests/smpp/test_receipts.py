"""Receipts in the dialects SMSCs write, and message ids that must match."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.smpp import DeliverSm, Tag
from dispatch.smpp.receipts import (
    MessageState,
    ReceiptText,
    folded_message_id,
    is_receipt,
    normalise_message_id,
    parse_receipt_date,
    parse_receipt_text,
    read_receipt,
    stat_to_state,
)

STANDARD = ("id:abc123 sub:001 dlvrd:001 submit date:2401151200 done date:2401151201 "
            "stat:DELIVRD err:000 text:Hello there")


def test_standard_receipt_text() -> None:
    assert parse_receipt_text(STANDARD) == ReceiptText(
        id="abc123", sub="001", dlvrd="001", submit_date="2401151200",
        done_date="2401151201", stat="DELIVRD", err="000", text="Hello there")


def test_twelve_digit_dates_capital_text_and_hex_id() -> None:
    fields = parse_receipt_text(
        "id:0A1B2C3D sub:000 dlvrd:000 submit date:240115120005 done date:240115120107 "
        "stat:UNDELIV err:ABC Text:stat:fake id:fake")
    assert (fields.id, fields.submit_date, fields.stat, fields.err) == (
        "0A1B2C3D", "240115120005", "UNDELIV", "ABC")
    assert fields.text == "stat:fake id:fake"  # what follows text: is text, nothing else
    assert parse_receipt_date(fields.done_date) == datetime(2024, 1, 15, 12, 1, 7)


def test_missing_text_and_fields_are_none() -> None:
    fields = parse_receipt_text("id:77 stat:EXPIRED")
    assert fields == ReceiptText(id="77", stat="EXPIRED")


def test_keys_in_any_case_and_with_underscores() -> None:
    fields = parse_receipt_text("ID:5 Submit_Date:2401151200 DONE DATE:2401151201 STAT:deliVRD")
    assert (fields.id, fields.submit_date, fields.done_date) == ("5", "2401151200", "2401151201")
    assert stat_to_state(fields.stat) is MessageState.DELIVERED


@pytest.mark.parametrize(
    ("stat", "state"),
    [("ENROUTE", 1), ("DELIVRD", 2), ("EXPIRED", 3), ("DELETED", 4), ("UNDELIV", 5),
     ("ACCEPTD", 6), ("UNKNOWN", 7), ("REJECTD", 8), ("DELIVERED", 2), ("UNDELIVERABLE", 5),
     ("WHATEVER", 7), ("", 7), (None, 7)],
)
def test_stat_to_message_state(stat: str | None, state: int) -> None:
    assert stat_to_state(stat) == state


@pytest.mark.parametrize("value", ["2401151200", "240115120000"])
def test_dates_of_ten_and_twelve_digits(value: str) -> None:
    assert parse_receipt_date(value) == datetime(2024, 1, 15, 12, 0)


@pytest.mark.parametrize("value", [None, "", "24011512", "2413151200", "24-01-1512"])
def test_unreadable_dates_are_none(value: str | None) -> None:
    assert parse_receipt_date(value) is None


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(max_size=300))
def test_receipt_text_parser_never_raises(value: str) -> None:
    assert isinstance(parse_receipt_text(value), ReceiptText)


def test_receipt_detection() -> None:
    assert is_receipt(0x04, {})
    assert is_receipt(0x20, {})  # intermediate notification
    assert is_receipt(0x00, {Tag.RECEIPTED_MESSAGE_ID: "1", Tag.MESSAGE_STATE: 2})
    assert not is_receipt(0x00, {Tag.RECEIPTED_MESSAGE_ID: "1"})
    assert not is_receipt(0x40, {})  # a concatenated MO


def test_read_receipt_prefers_the_tlvs() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=STANDARD.replace("DELIVRD", "UNDELIV").encode(),
                    tlvs={Tag.RECEIPTED_MESSAGE_ID: "00ABC123", Tag.MESSAGE_STATE: 2,
                          Tag.NETWORK_ERROR_CODE: b"\x03\x00\x01"})
    receipt = read_receipt(pdu)
    assert receipt is not None
    assert (receipt.message_id, receipt.message_key) == ("00ABC123", "abc123")
    assert receipt.state is MessageState.DELIVERED and receipt.is_final
    assert (receipt.error, receipt.network_error) == ("000", b"\x03\x00\x01")
    assert receipt.done_at == datetime(2024, 1, 15, 12, 1)


def test_read_receipt_from_text_only_with_unknown_stat_and_odd_err() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=b"id:42 stat:WEIRD err:ABC")
    receipt = read_receipt(pdu)
    assert receipt is not None
    assert (receipt.message_key, receipt.state, receipt.error) == ("42", MessageState.UNKNOWN,
                                                                   "ABC")
    assert not receipt.is_final


def test_intermediate_notification_is_not_final() -> None:
    receipt = read_receipt(DeliverSm(esm_class=0x20, short_message=b"id:1 stat:DELIVRD"))
    assert receipt is not None and receipt.intermediate and not receipt.is_final


def test_mo_is_not_a_receipt() -> None:
    assert read_receipt(DeliverSm(short_message=b"STOP")) is None


def test_receipt_in_ucs2_and_in_message_payload() -> None:
    body = "id:9 stat:REJECTD".encode("utf-16-be")
    ucs2 = read_receipt(DeliverSm(esm_class=4, data_coding=8, short_message=body))
    payload = read_receipt(
        DeliverSm(esm_class=4, tlvs={Tag.MESSAGE_PAYLOAD: b"id:9 stat:EXPIRED"}))
    assert ucs2 is not None and ucs2.state is MessageState.REJECTED
    assert payload is not None and payload.state is MessageState.EXPIRED


def test_hex_response_id_matches_decimal_receipt_text_with_declared_bases() -> None:
    resp_id = "1A2B"  # submit_sm_resp, in hex
    pdu = DeliverSm(esm_class=4, short_message=b"id:6699 stat:DELIVRD")  # text, decimal
    receipt = read_receipt(pdu, submit_id_base=16, text_id_base=10)
    assert receipt is not None
    assert receipt.message_key == normalise_message_id(resp_id, 16) == "6699"


@pytest.mark.parametrize(
    ("forms", "base"),
    [
        (["ab12", "AB12", "00ab12", "0xAB12", " ab12\0"], None),
        (["123", "000123", "0x123"], None),
        (["0", "000"], None),
        (["255", "0255", "255"], 10),
        (["ff", "FF", "0x00ff", "0XFF"], 16),
    ],
)
def test_forms_of_one_id_give_one_key(forms: list[str], base: int | None) -> None:
    assert len({normalise_message_id(form, base) for form in forms}) == 1


def test_distinct_ids_stay_distinct() -> None:
    # A hex SMSC issues both "ff" and "255" (= 0x255): guessing the base would merge them.
    assert normalise_message_id("ff") != normalise_message_id("255")
    assert normalise_message_id("ff", 16) != normalise_message_id("255", 16)
    assert normalise_message_id("f0-9a") == "f0-9a"  # not hex: only case and blanks fold
    assert normalise_message_id("xyz", 16) == "xyz"  # not parseable in its base: textual


ID_LIKE = st.text(alphabet="0123456789abcdefABCDEFxXz-_. \0\t\u00a0\u0130\u00e9", max_size=10)


@settings(deadline=None)
@given(ID_LIKE | st.text(max_size=8))
def test_the_shortcut_for_ids_already_folded_gives_what_folding_gives(raw: str) -> None:
    assert normalise_message_id(raw) == folded_message_id(raw, None)


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.integers(0, 2**64))
def test_declared_bases_make_hex_and_decimal_forms_equal(value: int) -> None:
    assert normalise_message_id(f"{value:X}", 16) == normalise_message_id(str(value), 10)
