"""Strategies shared by the fuzz tests: hostile text and bytes, valid PDUs to mutate."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from hypothesis import strategies as st

from dispatch.smpp.constants import TLV_KINDS, TlvKind
from dispatch.smpp.pdu import CSTRING, PDU_CLASSES, SHORT_MESSAGE, U8, Pdu

MB: Final = 1 << 20
HUGE_FIELD: Final = 10 * MB  # "a 10 MB field"
# Built once: strategies are rebuilt per example under flatmap (and cached by Hypothesis).
_HUGE_SHORT_MESSAGE: Final = b"\xff" * HUGE_FIELD
_HUGE_TLV: Final = b"x" * HUGE_FIELD
_BIG_SHORT_MESSAGES: Final = (b"\0" * 255, b"x" * 256)
_BIG_TLV: Final = b"\0" * 0x10000

# Text with what breaks naive code: lone surrogates, NUL, controls, line breaks, BOMs,
# characters past the BMP, and plain ASCII so that the valid paths are reached too.
NASTY_CHARACTERS: Final = st.one_of(
    st.characters(codec="ascii"),
    st.sampled_from(["\0", "\ud800", "\udfff", "\udc80", "\n", "\r", "\t", "\x1b", "\ufeff",
                     "\ufffd", '"', "'", "\\", "é", "€", "\u2028", "\U0001f600", "\x85"]),
    st.characters(),  # any code point, surrogates included
)
NASTY_TEXT: Final = st.text(NASTY_CHARACTERS, max_size=60)

# Integers around the edges of every width the wire uses.
EDGE_INTEGERS: Final = st.one_of(
    st.integers(-2, 300),
    st.sampled_from([0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, 1 << 64,
                     -(1 << 31), -(1 << 63)]),
    st.integers(),
)

LATIN1_NO_NUL: Final = st.characters(min_codepoint=1, max_codepoint=255)


def tlv_value(tag: int) -> st.SearchStrategy[Any]:
    """A value of the type the TLV's tag declares (the codec's documented input)."""
    kind = TLV_KINDS.get(tag)
    if kind is None or kind is TlvKind.OCTETS:
        return st.binary(max_size=40)
    if kind is TlvKind.CSTRING:
        return st.text(LATIN1_NO_NUL, max_size=30)
    return st.integers(0, (1 << (8 * kind.value)) - 1)


TAGS: Final = st.one_of(st.sampled_from(sorted(TLV_KINDS)), st.integers(0, 0xFFFF))
TLVS: Final = st.dictionaries(TAGS, st.none(), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({tag: tlv_value(tag) for tag in keys}))
PDU_TYPES: Final = sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)


def _valid_field(metadata: Any) -> st.SearchStrategy[Any]:
    if CSTRING in metadata:
        return st.text(LATIN1_NO_NUL, max_size=metadata[CSTRING] - 1)
    if U8 in metadata:
        return st.integers(0, 255)
    if SHORT_MESSAGE in metadata:
        return st.binary(max_size=metadata[SHORT_MESSAGE])
    raise AssertionError(metadata)


def valid_pdus_of(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {
        "sequence_number": st.integers(0, 0xFFFFFFFF),
        "command_status": st.integers(0, 0xFFFFFFFF),
    }
    for f in fields(cls):
        if f.metadata:
            kwargs[f.name] = _valid_field(f.metadata)
        elif f.name == "tlvs":
            kwargs[f.name] = TLVS
    return st.builds(cls, **kwargs)


VALID_PDUS: Final = st.sampled_from(PDU_TYPES).flatmap(valid_pdus_of)


def _wild_field(metadata: Any, huge: bool) -> st.SearchStrategy[Any]:
    """Any value of the field's Python type, including those the wire cannot carry."""
    if CSTRING in metadata:
        size = metadata[CSTRING]
        return st.one_of(NASTY_TEXT, st.text(LATIN1_NO_NUL, min_size=size - 2, max_size=size + 1))
    if U8 in metadata:
        return EDGE_INTEGERS
    if SHORT_MESSAGE in metadata:
        big = [*_BIG_SHORT_MESSAGES, *([_HUGE_SHORT_MESSAGE] if huge else [])]
        return st.one_of(st.binary(max_size=300), st.sampled_from(big))
    raise AssertionError(metadata)


def _wild_tlvs(huge: bool) -> st.SearchStrategy[Any]:
    big = [_BIG_TLV, *([_HUGE_TLV] if huge else [])]
    value = st.one_of(st.binary(max_size=40), NASTY_TEXT, EDGE_INTEGERS, st.sampled_from(big))
    return st.dictionaries(st.one_of(TAGS, EDGE_INTEGERS), value, max_size=4)


def wild_pdus_of(cls: type[Pdu], huge: bool = True) -> st.SearchStrategy[Pdu]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {
        "sequence_number": EDGE_INTEGERS, "command_status": EDGE_INTEGERS}
    for f in fields(cls):
        if f.metadata:
            kwargs[f.name] = _wild_field(f.metadata, huge)
        elif f.name == "tlvs":
            kwargs[f.name] = st.one_of(TLVS, _wild_tlvs(huge))
    return st.builds(cls, **kwargs)


# With 10 MB values: for @given only (st.data() draws are printed, 10 MB values too).
WILD_PDUS: Final = st.sampled_from(PDU_TYPES).flatmap(wild_pdus_of)
WILD_PDUS_SMALL: Final = st.sampled_from(PDU_TYPES).flatmap(
    lambda cls: wild_pdus_of(cls, huge=False))

# Header values that framing code must survive: command_length up to 2**32 - 1.
HEADER_WORDS: Final = st.one_of(
    st.sampled_from([0, 1, 15, 16, 17, 0xFFFF, 0x10000, 0x10001, 0x7FFFFFFF, 0x80000000,
                     0xFFFFFFFE, 0xFFFFFFFF]),
    st.integers(0, 0xFFFFFFFF))
COMMAND_IDS: Final = st.one_of(st.sampled_from(sorted(PDU_CLASSES)),
                               st.sampled_from([0x3, 0x7, 0x8, 0xB, 0x21, 0x102, 0x103,
                                                0x80000103, 0x8000000B]),
                               st.integers(0, 0xFFFFFFFF))
