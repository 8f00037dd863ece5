"""SMS parts once the placeholders are filled in: the worst case, and the exact count — pure.

The parts billed follow the rendered text, not the template: a 157-character text plus
`{prenom}` is one part for "Léa" and two for any first name of 4 characters or more. And
one value with a character outside GSM-7 (ç in François, ô in Jérôme, ï in Anaïs, ë in
Noël) sends its whole message in UCS-2, 70 characters a part instead of 160. So:

- `worst_case` (what `dispatch lint` prints, before any file): each placeholder rendered at
  the longest length it plausibly has (`PLAUSIBLE_LENGTHS` by name, else `DEFAULT_LENGTH`;
  the operator may give others), in the text's own encoding and, for a GSM-7 text, as if a
  value forced UCS-2. A bound, not a maximum: a longer value costs more.
- `RenderedParts` (what `dispatch enqueue` reports): each row's message sized as the row is
  read (`size`), and the sizes of the messages actually queued added up (`queued`): exact.

Parts are counted as dispatch.text cuts a text: what the SMPP gateway submits (8-bit
concatenation reference).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping, Sequence
from operator import mul
from typing import Any, Final, TypeVar

from dispatch.template import compile_template
from dispatch.text import (
    GSM7,
    GSM_BASIC_CHARS,
    GSM_CHARS,
    MULTI_PART,
    SINGLE_PART,
    UCS2,
    Encoding,
    TextEncodingError,
    analyse,
)

# The longest value a placeholder plausibly holds, by its name with accents, case and
# anything but letters and digits ignored ({Prénom}, {first_name}). Longer values exist but
# are rare; `dispatch lint --placeholder-length NAME=N` gives the bound of a file one knows.
PLAUSIBLE_LENGTHS: Final[dict[str, int]] = {
    # First names: compound ones such as Marie-Emmanuelle (16) fit.
    **dict.fromkeys(("prenom", "firstname", "givenname"), 20),
    # Surnames: compound and particle ones ("de La Rochefoucauld", 19) fit.
    **dict.fromkeys(("nom", "lastname", "surname", "nomdefamille", "familyname"), 30),
    **dict.fromkeys(("civilite", "title"), 12),  # "Mademoiselle"
    # The longest commune name: Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson (45).
    **dict.fromkeys(("ville", "commune", "city"), 45),
    **dict.fromkeys(("codepostal", "cp", "postcode", "zipcode"), 5),
}
DEFAULT_LENGTH: Final = 30  # any other placeholder: a short phrase, a date, a place
# What a worst-case value is made of: one septet each in GSM-7; ç is outside GSM-7 (as
# dispatch.text counts it), so a value of them makes the message UCS-2.
_GSM7_FILL: Final = "x"
_UCS2_FILL: Final = "ç"

Size = tuple[int, Encoding]  # a rendered message's parts and encoding
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class WorstCase:
    """A text's parts per message with its placeholders rendered from 1 character to their
    plausible lengths."""

    lengths: tuple[tuple[str, int], ...]  # each placeholder and the length it is counted at
    fewest: int  # parts with every value one character long
    most: int  # parts with every value at its length, in the text's encoding
    units: int  # septets or UTF-16 units of that longest message
    ucs2: int | None  # parts at those lengths if a value forces UCS-2; None: UCS-2 already

    @property
    def parts(self) -> int:
        """The most a message may take: what the estimated cost is counted from."""
        return max(self.most, self.ucs2 or 0)

    def to_json(self) -> dict[str, Any]:
        return {"lengths": dict(self.lengths), "parts_min": self.fewest,
                "parts_max": self.most, "units_max": self.units,
                "parts_max_if_ucs2": self.ucs2}


def plausible_length(name: str, given: Mapping[str, int] | None = None) -> int:
    """The length `name` is counted at: the operator's (`given`), else the table's."""
    if given and name in given:
        return given[name]
    key = re.sub(r"[^a-z0-9]", "", _fold(name))
    return PLAUSIBLE_LENGTHS.get(key, DEFAULT_LENGTH)


def worst_case(text: str, names: Sequence[str],
               lengths: Mapping[str, int] | None = None) -> WorstCase:
    """`text`'s parts with each placeholder of `names` at its plausible length."""
    if lengths and min(lengths.values()) < 1:
        raise ValueError("a placeholder's length must be at least 1")
    render = compile_template(text, names)
    bounds = tuple((name, plausible_length(name, lengths)) for name in names)
    fewest = analyse(render([_GSM7_FILL] * len(names)))
    longest = analyse(render([_GSM7_FILL * length for _, length in bounds]))
    ucs2 = (None if longest.encoding == UCS2
            else analyse(render([_UCS2_FILL * length for _, length in bounds])).parts)
    return WorstCase(bounds, fewest.parts, longest.parts, longest.units, ucs2)


class RenderedParts:
    """The exact parts of a campaign's messages: `size` each row's as it is read, then
    `queued` how many of a size the store queued.

    Enqueue speed (about a microsecond a row): a message is sized without rendering
    it when the text without its placeholders holds no character counting double (a GSM-7
    escape such as €, an emoji's surrogate pair). Its units are then the text's plus the
    values' lengths, in GSM-7 when every value is too, else in UCS-2, and its parts a
    division. Otherwise (rare: a value of € or emoji) it is rendered and cut like the
    gateway cuts it.
    """

    def __init__(self, text: str, names: Sequence[str]) -> None:
        self._render = compile_template(text, names)
        literal = self._render([""] * len(names) if names else None)
        info = analyse(literal)
        self._text: Size = (info.parts, info.encoding)
        self._units = info.units
        self._encoding = info.encoding
        # How many times each value appears in a message: what its length counts for.
        self._times = tuple(len(self._render(_marked(len(names), i))) - len(literal)
                            for i in range(len(names)))
        self._countable = info.units == len(literal)  # no escape or surrogate pair
        # A value counting one unit a character in the text's encoding (a bound builtin:
        # C speed on every row).
        self._plain = (GSM_BASIC_CHARS.issuperset if info.encoding == GSM7
                       else _one_unit_each)
        self.messages: dict[Size, int] = {}  # messages queued, by size
        self.outside_gsm7: dict[str, None] = {}  # in the values read (queued or not)

    def size(self, values: Sequence[str] | None) -> Size:
        """The parts and encoding of the message rendered from `values`."""
        if not values:  # no placeholders: every message is the text
            return self._text
        if not self._countable:
            return self._rendered(values)
        # map and join rather than a loop over the values: C speed.
        units = self._units + sum(map(mul, self._times, map(len, values)))
        joined = "".join(values)
        if self._plain(joined):
            return _cut(units, self._encoding)
        return self._wide(values, joined, units)

    def queued(self, size: Size, count: int) -> None:
        """`count` messages of `size` were queued."""
        if count:
            self.messages[size] = self.messages.get(size, 0) + count

    @property
    def parts(self) -> int:
        return sum(parts * count for (parts, _), count in self.messages.items())

    @property
    def count(self) -> int:
        return sum(self.messages.values())

    @property
    def ucs2(self) -> int:
        """Messages queued in UCS-2."""
        return sum(count for (_, encoding), count in self.messages.items()
                   if encoding == UCS2)

    def by_parts(self) -> list[tuple[int, int]]:
        """(parts, messages) for each part count, fewest parts first."""
        counts: dict[int, int] = {}
        for (parts, _), count in self.messages.items():
            counts[parts] = counts.get(parts, 0) + count
        return sorted(counts.items())

    def to_json(self) -> dict[str, Any]:
        return {"messages": self.count, "parts": self.parts, "ucs2_messages": self.ucs2,
                "by_parts": [{"parts": parts, "messages": count}
                             for parts, count in self.by_parts()],
                "values_outside_gsm7": list(self.outside_gsm7)}

    def _wide(self, values: Sequence[str], joined: str, units: int) -> Size:
        """A message of a countable text with a value of other characters: UCS-2 because
        of a character outside GSM-7, `units` long if none counts double."""
        if self._encoding == UCS2 or GSM_CHARS.issuperset(joined) or max(joined) > "\uffff":
            return self._rendered(values)  # an escape or a surrogate pair: cut it
        outside = set(joined) - GSM_CHARS
        if not outside.issubset(self.outside_gsm7):  # rare: a character not seen yet
            self.outside_gsm7.update(dict.fromkeys(c for c in joined if c in outside))
        return _cut(units, UCS2)

    def _rendered(self, values: Sequence[str]) -> Size:
        try:
            info = analyse(self._render(values))
        except TextEncodingError:  # a lone surrogate: the gateway refuses it as one part
            return 1, self._encoding
        if info.encoding != self._encoding:  # UCS-2 because of a value
            self.outside_gsm7.update(dict.fromkeys(info.forcing_chars))
        return info.parts, info.encoding


def grouped(items: Sequence[T], sizes: Sequence[Size]) -> list[tuple[Size, list[T]]]:
    """`items` by their message's size, in order of first appearance, each group in the
    items' order: a batch of one size (the usual case) stays one batch."""
    if not sizes or sizes.count(sizes[0]) == len(sizes):
        return [(sizes[0], list(items))] if sizes else []
    groups: dict[Size, list[T]] = {}
    for item, size in zip(items, sizes, strict=True):
        groups.setdefault(size, []).append(item)
    return list(groups.items())


def _cut(units: int, encoding: Encoding) -> Size:
    """The parts of a message of `units` with no escape or surrogate pair to keep whole."""
    if units <= SINGLE_PART[encoding]:
        return 1, encoding
    return -(-units // MULTI_PART[encoding, False]), encoding


def _one_unit_each(value: str) -> bool:
    """No character of `value` takes two UTF-16 units."""
    return value.isascii() or max(value) <= "\uffff"


def _marked(count: int, index: int) -> list[str]:
    return ["x" if i == index else "" for i in range(count)]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
