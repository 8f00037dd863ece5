"""SMS text: GSM-7 or UCS-2, what it costs in parts, how it is cut — pure.

GSM-7 here is the form SMPP sends with data_coding 0: unpacked, one septet per octet, the
SMSC packs it. A character of the extension table (€ ^ { } [ ] ~ \\ | and form feed) is an
escape pair `1B xx` and counts two. A message with any character outside both tables goes
entirely in UCS-2 (UTF-16BE, emoji as surrogate pairs counting two units). `ç` is treated as
outside GSM-7: tables disagree on it (0x09 is `Ç` in 3GPP 23.038, `ç` in older phones).

Part sizes, in septets (GSM-7) or UTF-16 code units (UCS-2): 160 / 70 for a single part; in a
concatenated message the UDH takes 6 octets (8-bit reference: 153 / 67) or 7 (16-bit: 152 /
66). A cut never separates an escape pair or a surrogate pair, so a part may hold one unit
less than its maximum, and the part count is the count of the actual cut, never a division.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

Encoding = Literal["gsm7", "ucs2"]
GSM7: Final = "gsm7"
UCS2: Final = "ucs2"
DATA_CODING: Final[dict[str, int]] = {GSM7: 0, UCS2: 8}

# 3GPP TS 23.038 basic table, index = septet; 0x1B is the escape, never a character.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION: Final[dict[str, int]] = {
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
    "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
}
ESCAPE: Final = 0x1B

GSM_BASIC_CHARS: Final = frozenset(_BASIC) - {"\x1b"}
GSM_EXTENSION_CHARS: Final = frozenset(_EXTENSION)
GSM_CHARS: Final = GSM_BASIC_CHARS | GSM_EXTENSION_CHARS

# str.translate tables: the whole encode and the common decode run in C.
_TO_GSM: Final[dict[int, str]] = {
    **{ord(c): chr(i) for i, c in enumerate(_BASIC) if c != "\x1b"},
    **{ord(c): "\x1b" + chr(code) for c, code in _EXTENSION.items()},
}
# bytes.translate table for the GSM-7 characters of latin-1 (other octets never occur).
_LATIN1_TO_GSM: Final = bytes(
    ord(_TO_GSM.get(i, "\x00")) if len(_TO_GSM.get(i, "\x00")) == 1 else 0 for i in range(256)
)
# Octets above 0x7F are not septets; read them as their low seven bits rather than fail.
_FROM_GSM: Final[dict[int, str]] = {i: _BASIC[i & 0x7F] for i in range(256)}
_FROM_GSM_EXTENSION: Final[dict[int, str]] = {code: c for c, code in _EXTENSION.items()}

SINGLE_PART: Final[dict[str, int]] = {GSM7: 160, UCS2: 70}
# Units per part of a concatenated message, by reference size (8 or 16 bits).
MULTI_PART: Final[dict[tuple[str, bool], int]] = {
    (GSM7, False): 153, (GSM7, True): 152, (UCS2, False): 67, (UCS2, True): 66,
}


class TextEncodingError(ValueError):
    """Text that cannot be encoded as asked; the message names the characters."""


class TextInfo(NamedTuple):
    encoding: Encoding
    parts: int  # SMS parts billed; an empty text still costs one
    units: int  # septets (escape pairs count 2) or UTF-16 code units
    forcing_chars: tuple[str, ...]  # characters that forced UCS-2, in order of appearance

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.encoding]


def choose_encoding(text: str) -> Encoding:
    return GSM7 if GSM_CHARS.issuperset(text) else UCS2


def forcing_chars(text: str) -> tuple[str, ...]:
    """The distinct characters outside GSM-7, in order of first appearance."""
    return _in_order(text, set(text) - GSM_CHARS)


def _in_order(text: str, chars: set[str]) -> tuple[str, ...]:
    return tuple(c for c in dict.fromkeys(text) if c in chars) if chars else ()


def analyse(text: str, *, ref16: bool = False) -> TextInfo:
    """Encoding, units and part count of `text` (what the operator pays before sending)."""
    distinct = set(text)
    forcing = _in_order(text, distinct - GSM_CHARS)
    encoding: Encoding = UCS2 if forcing else GSM7
    encoded = _encode_ucs2(text) if forcing else _encode_gsm7(text, distinct)
    units = len(encoded) if encoding == GSM7 else len(encoded) // 2
    parts = len(_cuts(encoded, encoding, ref16))
    return TextInfo(encoding, parts, units, forcing)


def encode(text: str, encoding: Encoding) -> bytes:
    """`text` as SMPP carries it: unpacked GSM-7 (data_coding 0) or UTF-16BE (8)."""
    if encoding == UCS2:
        return _encode_ucs2(text)
    distinct = set(text)
    if not distinct <= GSM_CHARS:
        outside = _in_order(text, distinct - GSM_CHARS)
        raise TextEncodingError(f"not in GSM-7: {''.join(outside)!r}")
    return _encode_gsm7(text, distinct)


def _encode_gsm7(text: str, distinct: set[str]) -> bytes:
    """`text`, known to be all GSM-7, whose distinct characters are `distinct`."""
    if distinct.isdisjoint(GSM_EXTENSION_CHARS):
        try:  # the common case, one septet per character: two C-level passes
            return text.encode("latin-1").translate(_LATIN1_TO_GSM)
        except UnicodeEncodeError:
            pass  # Greek capitals: not latin-1
    return text.translate(_TO_GSM).encode("latin-1")


def _encode_ucs2(text: str) -> bytes:
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise TextEncodingError(f"unpaired surrogate at position {exc.start}") from None


def split(text: str, *, ref16: bool = False) -> list[bytes]:
    """Encoded payloads of the parts (without UDH), in the encoding `analyse` chooses."""
    encoding = choose_encoding(text)
    encoded = encode(text, encoding)
    return [encoded[start:end] for start, end in _cuts(encoded, encoding, ref16)]


def split_encoded(encoded: bytes, encoding: Encoding, *, ref16: bool = False) -> list[bytes]:
    """Cut an already encoded text into part payloads."""
    return [encoded[start:end] for start, end in _cuts(encoded, encoding, ref16)]


def _cuts(encoded: bytes, encoding: Encoding, ref16: bool) -> list[tuple[int, int]]:
    width = 1 if encoding == GSM7 else 2
    if len(encoded) <= SINGLE_PART[encoding] * width:
        return [(0, len(encoded))]
    size = MULTI_PART[encoding, ref16] * width
    cuts: list[tuple[int, int]] = []
    start = 0
    while start < len(encoded):
        end = min(start + size, len(encoded))
        if end < len(encoded) and _splits_a_pair(encoded, end, width):
            end -= width
        cuts.append((start, end))
        start = end
    return cuts


def _splits_a_pair(encoded: bytes, end: int, width: int) -> bool:
    """Does cutting before `end` separate an escape pair or a surrogate pair?"""
    if width == 1:
        # 0x1B only ever starts a pair: its second octet is never 0x1B.
        return encoded[end - 1] == ESCAPE
    return 0xD8 <= encoded[end - 2] <= 0xDB


def decode(data: bytes, data_coding: int) -> str:
    """Text of a received short message; never raises, whatever the bytes or data_coding."""
    alphabet = _alphabet(data_coding)
    if alphabet == GSM7:
        return decode_gsm7(data)
    if alphabet == UCS2:
        return data.decode("utf-16-be", "replace")
    return data.decode(alphabet, "replace")


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7; an escape before an unknown code reads as the basic character."""
    if ESCAPE not in data:
        return data.decode("latin-1").translate(_FROM_GSM)
    head, *escaped = data.split(b"\x1b")
    pieces = [head.decode("latin-1").translate(_FROM_GSM)]
    for piece in escaped:
        pieces.append(_escaped(piece))
    return "".join(pieces)


def _escaped(piece: bytes) -> str:
    if not piece:
        return " "  # a lone escape: 23.038 says display a space
    code = piece[0] & 0x7F
    first = _FROM_GSM_EXTENSION.get(code, _BASIC[code])
    return first + piece[1:].decode("latin-1").translate(_FROM_GSM)


# SMPP 3.4 §5.2.19 values 0-15; above, the GSM 03.38 data coding scheme groups.
_SMPP_ALPHABETS: Final[dict[int, str]] = {
    0: GSM7, 1: "latin-1", 2: "latin-1", 3: "latin-1", 4: "latin-1",
    6: "iso8859-5", 7: "iso8859-8", 8: UCS2,
}
_DCS_ALPHABETS: Final = (GSM7, "latin-1", UCS2, "latin-1")


def _alphabet(data_coding: int) -> str:
    if data_coding < 0x10:
        return _SMPP_ALPHABETS.get(data_coding, "latin-1")
    if data_coding < 0x40:  # general data coding: alphabet in bits 3-2
        return _DCS_ALPHABETS[(data_coding >> 2) & 3]
    if 0xC0 <= data_coding < 0xE0:  # message waiting, default alphabet
        return GSM7
    if 0xE0 <= data_coding < 0xF0:  # message waiting, UCS-2
        return UCS2
    if data_coding >= 0xF0:  # message class: bit 2 chooses GSM-7 or 8-bit data
        return "latin-1" if data_coding & 0x04 else GSM7
    return "latin-1"
