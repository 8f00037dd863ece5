"""SMS text: encoding choice, cost in parts, cuts that never break a pair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import text
from dispatch.text import GSM7, UCS2, analyse, decode, encode, split

GSM_ALPHABET = sorted(text.GSM_CHARS)


@pytest.mark.parametrize("char", list("éèùàìòÉÇäöüñÄÖÜÑæÆß"))
def test_french_and_european_letters_in_the_basic_set_stay_gsm7_and_cost_one(char: str) -> None:
    info = analyse(f"Vote {char}")
    assert (info.encoding, info.units, info.forcing_chars) == (GSM7, 6, ())


@pytest.mark.parametrize("char", list("€^{}[]~\\|"))
def test_extension_characters_cost_two(char: str) -> None:
    info = analyse(f"a{char}")
    assert (info.encoding, info.units) == (GSM7, 3)
    assert encode(char, GSM7)[0] == 0x1B


@pytest.mark.parametrize("char", list("çêâîôûëïÿœÀÂÈÊËÎÏÔÙÛ«»’“”…"))
def test_these_characters_force_ucs2_and_are_named(char: str) -> None:
    info = analyse(f"Merci {char} à vous")
    assert info.encoding == UCS2
    assert info.forcing_chars == (char,)
    assert info.data_coding == 8


def test_forcing_characters_are_listed_once_in_order_of_appearance() -> None:
    assert analyse("ça être ça “oui” ê").forcing_chars == ("ç", "ê", "“", "”")


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("a" * 160, 1), ("a" * 161, 2), ("a" * 153 * 2, 2), ("a" * (153 * 2 + 1), 3),
        ("ç" * 70, 1), ("ç" * 71, 2), ("ç" * 67 * 2, 2), ("ç" * (67 * 2 + 1), 3),
        ("", 1),
    ],
)
def test_part_counts_at_the_limits(message: str, parts: int) -> None:
    assert analyse(message).parts == parts
    assert len(split(message)) == parts


def test_sixteen_bit_references_leave_one_unit_less_per_part() -> None:
    assert analyse("a" * 153 * 2).parts == 2
    assert analyse("a" * 153 * 2, ref16=True).parts == 3
    assert [len(p) for p in split("a" * 305, ref16=True)] == [152, 152, 1]


def test_escape_counts_two_in_the_single_part_limit() -> None:
    assert analyse("€" * 80).parts == 1
    assert analyse("€" * 80 + "a").parts == 2


def test_a_cut_never_separates_an_escape_pair() -> None:
    parts = split("a" * 152 + "€" + "b" * 10)
    assert parts[0] == b"a" * 152  # the pair would straddle octet 153: it moves on
    assert parts[1] == b"\x1be" + b"b" * 10
    assert analyse("a" * 152 + "€" + "b" * 10).units == 164


def test_a_cut_never_separates_a_surrogate_pair() -> None:
    message = "ç" * 66 + "😀" + "x" * 10
    parts = split(message)
    assert len(parts[0]) == 66 * 2  # the pair would straddle unit 67: it moves on
    assert parts[1] == "😀xxxxxxxxxx".encode("utf-16-be")
    assert analyse(message).units == 78  # the emoji counts two UTF-16 units
    assert analyse("😀" * 35).parts == 1
    assert analyse("😀" * 35 + "a").parts == 2


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(alphabet=st.sampled_from(GSM_ALPHABET), max_size=700))
def test_gsm7_parts_rejoin_to_the_text_and_respect_the_limits(message: str) -> None:
    parts = split(message)
    assert decode(b"".join(parts), 0) == message
    limit = 160 if len(parts) == 1 else 153
    assert all(len(p) <= limit and not p.endswith(b"\x1b") for p in parts)
    assert analyse(message).parts == len(parts)


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=400))
def test_any_text_rejoins_and_no_part_ends_inside_a_pair(message: str) -> None:
    info = analyse(message)
    parts = split(message)
    assert decode(b"".join(parts), info.data_coding) == message
    for part in parts[:-1]:
        if info.encoding == UCS2:
            assert not 0xD8 <= part[-2] <= 0xDB
            assert part.decode("utf-16-be")  # each part is valid UTF-16 on its own
        else:
            assert part[-1] != 0x1B


def test_encode_gsm7_refuses_characters_outside_it() -> None:
    with pytest.raises(text.TextEncodingError, match="'ç'"):
        encode("ça", GSM7)


def test_unpaired_surrogate_is_a_clear_error() -> None:
    with pytest.raises(text.TextEncodingError, match="position 1"):
        analyse("a\ud83d")


def test_gsm7_bytes_are_the_unpacked_septets() -> None:
    assert encode("@£$¥é_€", GSM7) == bytes([0x00, 0x01, 0x02, 0x03, 0x05, 0x11, 0x1B, 0x65])
    assert encode("€", UCS2) == b"\x20\xac"
    assert encode("😀", UCS2) == b"\xd8\x3d\xde\x00"


@pytest.mark.parametrize(
    ("data", "data_coding", "expected"),
    [
        (b"\x00\x1be\x1b\x14", 0, "@€^"),
        (b"\x1b\x41", 0, "A"),  # unknown escape: the basic character
        (b"ab\x1b", 0, "ab "),  # dangling escape
        (b"\xc1", 0, "A"),  # not a septet: its low seven bits
        (b"\x00\xe9", 8, "é"),
        (b"\x00", 8, "\ufffd"),  # odd UCS-2 length
        (b"\xd8\x3d", 8, "\ufffd"),  # lone surrogate
        (b"caf\xe9", 3, "café"),
        (b"abc", 4, "abc"),
        (b"caf\xe9", 0x77, "café"),  # unknown value: latin-1
        (b"\x00A", 0x18, "A"),  # DCS general group, UCS-2
        (b"hi", 0xF0, "hi"),  # flash, GSM-7
        (b"\x01", 0xF4, "\x01"),  # class 0, 8-bit data
    ],
)
def test_decode_is_tolerant(data: bytes, data_coding: int, expected: str) -> None:
    assert decode(data, data_coding) == expected


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.binary(max_size=300), st.integers(0, 255))
def test_decode_never_raises(data: bytes, data_coding: int) -> None:
    assert isinstance(decode(data, data_coding), str)
