"""UDH building and walking, sar_* TLVs, message_payload."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import text
from dispatch.smpp import SmppDecodeError, Tag
from dispatch.smpp.udh import (
    Concat,
    concat_header,
    find_concat,
    message_content,
    parse_udh,
    sar_tlvs,
    with_concat,
)


def test_eight_bit_reference_header() -> None:
    assert concat_header(0xA7, 3, 2) == bytes.fromhex("050003A70302")


def test_sixteen_bit_reference_header() -> None:
    assert concat_header(0x1234, 3, 1, ref16=True) == bytes.fromhex("060804123403 01")


def test_concat_element_found_when_it_is_not_first() -> None:
    # Port addressing (IEI 0x05, 4 octets) first, then the 8-bit concatenation element.
    message = bytes.fromhex("0B 0504 0B84 23F0 0003 2A 02 01") + b"hello"
    content = message_content(0x40, message, {})
    assert content.concat == Concat(0x2A, 2, 1)
    assert content.payload == b"hello"
    assert content.elements == ((0x05, bytes.fromhex("0B8423F0")), (0x00, b"\x2a\x02\x01"))


def test_sixteen_bit_concat_element_after_another() -> None:
    message = bytes.fromhex("09 2401 01 0804 BEEF 0302") + b"part"
    content = message_content(0x40, message, {})
    assert content.concat == Concat(0xBEEF, 3, 2, ref16=True)
    assert content.payload == b"part"


def test_udh_without_concat_element() -> None:
    content = message_content(0x40, bytes.fromhex("03 2401 01") + b"x", {})
    assert (content.concat, content.payload) == (None, b"x")


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (b"", "message is empty"),
        (bytes.fromhex("09 0003 01"), "length 9 exceeds"),
        (bytes.fromhex("03 0005 01") + b"x", "overruns the UDH"),
        (bytes.fromhex("01 00") + b"x", "cut short"),
    ],
)
def test_broken_udh_is_reported_and_the_message_kept_whole(message: bytes, problem: str) -> None:
    with pytest.raises(SmppDecodeError, match=problem):
        parse_udh(message)
    content = message_content(0x40, message, {})
    assert (content.payload, content.concat) == (message, None)
    assert problem in content.problem


@pytest.mark.parametrize("element", ["0003 2A 02 00", "0003 2A 02 03", "0003 2A 00 00"])
def test_inconsistent_concat_element_counts_as_absent(element: str) -> None:
    elements, _ = parse_udh(bytes.fromhex("05" + element))
    assert find_concat(elements) is None


def test_sar_tlvs_are_read_when_there_is_no_udh() -> None:
    tlvs = sar_tlvs(0x1234, 2, 2)
    assert message_content(0, b"tail", tlvs).concat == Concat(0x1234, 2, 2, ref16=True)


def test_message_payload_is_used_when_short_message_is_empty() -> None:
    content = message_content(0, b"", {Tag.MESSAGE_PAYLOAD: b"long text"})
    assert (content.payload, content.concat) == (b"long text", None)


def test_with_concat_leaves_a_single_part_bare() -> None:
    assert with_concat([b"only"], 7) == [b"only"]


MESSAGES = st.one_of(
    st.text(st.sampled_from(sorted(text.GSM_CHARS)), min_size=1, max_size=600),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=400),
)


@settings(deadline=None)  # no wall-clock limits in tests
@given(MESSAGES, st.integers(0, 0xFFFF), st.booleans())
def test_split_parts_walk_back_to_the_text(message: str, reference: int, ref16: bool) -> None:
    info = text.analyse(message, ref16=ref16)
    parts = with_concat(text.split(message, ref16=ref16), reference, ref16=ref16)
    assert len(parts) == info.parts
    esm_class = 0x40 if len(parts) > 1 else 0
    contents = [message_content(esm_class, p, {}) for p in parts]
    for part, content in zip(parts, contents, strict=True):
        assert _fits_one_sms(len(part) - len(content.payload), content.payload, info.encoding)
    if len(parts) > 1:
        expected_ref = reference if ref16 else reference & 0xFF
        assert [c.concat for c in contents] == [
            Concat(expected_ref, len(parts), i, ref16) for i in range(1, len(parts) + 1)]
    joined = b"".join(c.payload for c in contents)
    assert text.decode(joined, info.data_coding) == message


def _fits_one_sms(udh_octets: int, payload: bytes, encoding: str) -> bool:
    """140 octets on the air: GSM-7 septets are packed after the UDH, padded to a septet."""
    if encoding == text.UCS2:
        return udh_octets + len(payload) <= 140
    udh_septets = -(-udh_octets * 8 // 7)
    return udh_septets + len(payload) <= 160
