"""Reading campaign files: CSV or JSONL rows streamed from a binary file.

A source yields one `Record` per data row: its physical start line (1-based, the CSV header
is line 1), the phone value followed by the requested placeholder values then the
requested optional columns (None where the row has none), or the reason the row cannot be
read. Optional columns (the consent columns) are matched case-insensitively and may be
absent from the file. Nothing here holds more than one row at a time.

Encodings. The caller may name one; else a CSV is read as UTF-8 (a BOM is dropped) or, when
its first MiB shows it is not, as Windows-1252 (the superset of Latin-1 that spreadsheets
write in France: é, œ, €, ’). Not UTF-8 means: at least two bytes invalid in UTF-8 and no
UTF-8-encoded French character (é as C3 A9, ’ as E2 80 99...). One stray byte, or a file
mixing both, stays UTF-8: the decision holds for the whole file, and a wrong UTF-8 guess
rejects rows loudly where a wrong cp1252 guess would send "Ã©" silently. Bytes that the
encoding cannot decode (past the first MiB, say) are kept escaped: a row is rejected, with
its line and the column, only if they sit in a column the messages use. A caller's
"latin-1" is read as Windows-1252 too (as browsers do): its 0x80-0x9F bytes are €, ’, œ...
in such files, never control characters. JSON Lines are UTF-8 unless the caller says
otherwise (RFC 8259). Encodings that are not ASCII-compatible (UTF-16...) are refused.

CSV delimiters. `,` `;` or tab: the caller's, else the one that makes a `phone` column of
the header; when several or none do, the one giving the most columns, then the first of
`,` `;` tab (a header of just "phone" is read with `,`). Excel's `sep=X` line before the
header gives the delimiter unless the caller did.

Broken rows. Rows are read by physical line; the csv quoting rules apply only to lines
holding a quote. A quoted field may run over at most ROW_LINES lines; a quote still open
after them (or at the end of the file, or past ROW_LIMIT characters), or a quote in the
middle of a field, rejects that first physical line alone, and reading goes on with the
line after it; so does a row over several lines without the header's number of fields.
A stray quote costs its row, and at worst the few lines up to another stray quote that
closes it into a well-formed row. A line over ROW_LIMIT characters is rejected and the
rest of it read in pieces and dropped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any, BinaryIO, NamedTuple, Protocol

PHONE = "phone"
FORMATS = ("csv", "jsonl")
DELIMITERS = (",", ";", "\t")
# A row's bound in characters (4 bytes each at most in memory), hence 65,537 fields at
# most: csv's default field limit, which bounded a field before.
ROW_LIMIT = 131_072
# A quoted field with line breaks (an address) spans a few lines; the fewer allowed, the
# fewer rows a stray quote that meets another one further down can swallow.
ROW_LINES = 5
_DETECT_BYTES = 1 << 20
_READ = ROW_LIMIT + 2  # a line of ROW_LIMIT characters, then \r\n
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_LOOKS_LIKE_DATA = re.compile(r"\d{6}")
_SEP_LINE = re.compile(r'sep=([^"\r\n])\r?\n?', re.IGNORECASE)
_UTF8 = "UTF-8"
_CP1252 = "Windows-1252"
# UTF-8 for é à ç... (C3 xx), œ (C5 93), ’ € … – (E2 80-82 xx): in cp1252 these would read
# "Ã©", "Å“", "â€™", which no French text holds.
_UTF8_FRENCH = re.compile(rb"[\xc3\xc5][\x80-\xbf]|\xe2[\x80-\x82][\x80-\xbf]")
_ESCAPED = re.compile("[\udc80-\udcff]")  # a byte surrogateescape could not decode
_NOT_UTF8 = 2  # invalid bytes in the first MiB that make a file Windows-1252
_PROBE = 'phone,;\t"\r\n'
STRAY_QUOTE = "quote in the middle of a field"
_TOO_LONG = f"line longer than {ROW_LIMIT:,} characters"


class IngestError(Exception):
    """The file cannot be used at all (empty, no phone column...); nothing is queued."""


class Record(NamedTuple):
    line: int
    # [phone, *placeholder values, *optional values]; None if `error` is set
    values: Sequence[str | None] | None
    error: str | None


class RowSource(Protocol):
    @property
    def columns(self) -> Sequence[str] | None:
        """Column names of a CSV header; None for JSONL, whose keys vary per line."""
        ...

    @property
    def encoding(self) -> str:
        """The encoding the file is read in: the caller's name, or the one detected."""
        ...

    @property
    def delimiter(self) -> str | None:
        """The CSV delimiter, given or detected; None for JSONL."""
        ...

    def select(self, names: Sequence[str], optional: Sequence[str] = ()) -> Iterator[Record]:
        """Records carrying the phone, the values of `names`, then those of the `optional`
        columns (lower-case names, matched in any case), in that order."""
        ...

    def bytes_read(self) -> int:
        """How far into the file reading has got, for progress."""
        ...


def format_for(path: str, fmt: str | None) -> str:
    """The explicit format, else the one the file name suggests (.jsonl/.ndjson, else csv)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise IngestError(f"unknown format {fmt!r} (expected csv or jsonl)")
        return fmt
    return "jsonl" if path.lower().endswith(_JSONL_SUFFIXES) else "csv"


def open_source(binary: BinaryIO, fmt: str, *, encoding: str | None = None,
                delimiter: str | None = None) -> RowSource:
    """A row source over `binary`; reads the CSV header (or the first JSONL line) at once.
    `encoding`, `delimiter`: None to detect them (see the module's docstring)."""
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise IngestError(f"the delimiter must be one character, not a quote or a line "
                          f"break (got {delimiter!r})")
    if fmt == "csv":
        return CsvSource(binary, encoding=encoding, delimiter=delimiter)
    if delimiter is not None:
        raise IngestError("a delimiter applies to CSV files, not JSON Lines")
    return JsonlSource(binary, encoding=encoding)


def bad_text_column(values: Sequence[str | None], names: Sequence[str],
                    encoding: str = _UTF8) -> str | None:
    """The reason a row holds bytes that `encoding` cannot decode, naming the column."""
    for value, name in zip(values, names, strict=True):
        if value is not None and not value.isascii() and _has_surrogates(value):
            return f"column {name!r} is not valid {encoding}"
    return None


def _maybe_bad_text(fields: list[str]) -> bool:
    """False when no field can hold undecodable bytes (one C call for the common case)."""
    row = "".join(fields)
    return not row.isascii() and _has_surrogates(row)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- encodings -------------------------------------------------------------------------

def _decoded(binary: BinaryIO, encoding: str | None, detect: bool, newline: str
             ) -> tuple[BinaryIO, io.TextIOWrapper, str]:
    """(the binary to read from, its text, the encoding's name for messages)."""
    if encoding is not None:
        codec, label = _codec(encoding), encoding
    elif detect:
        head = _read_some(binary, _DETECT_BYTES)
        binary = _rewound(binary, head)
        codec, label = _detect(head)
    else:
        codec, label = "utf-8-sig", _UTF8
    text = io.TextIOWrapper(binary, encoding=codec, errors="surrogateescape", newline=newline)
    return binary, text, label


def _codec(name: str) -> str:
    """The codec for the caller's encoding name."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise IngestError(f"unknown encoding {name!r}") from None
    codec = {"utf-8": "utf-8-sig", "iso8859-1": "cp1252"}.get(codec, codec)
    try:  # quotes, delimiters and line breaks must be the bytes the reading looks for
        usable = _PROBE.encode("ascii").decode(codec) == _PROBE
    except (LookupError, UnicodeDecodeError):  # not a text encoding (rot13), or UTF-16
        usable = False
    if not usable:
        raise IngestError(f"encoding {name!r} is not supported (the file must be "
                          f"ASCII-compatible: UTF-8, Windows-1252, Latin-1...)")
    return codec


def _detect(head: bytes) -> tuple[str, str]:
    """(codec, name) for a file beginning with `head`."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", _UTF8
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError("the file is UTF-16 (a spreadsheet's \"Unicode text\"): save it "
                          "as CSV UTF-8")
    # not `final`: a character cut by the end of `head` is not an error
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(head)
    invalid = len(list(islice(_ESCAPED.finditer(text), _NOT_UTF8)))
    if invalid < _NOT_UTF8 or _UTF8_FRENCH.search(head):
        return "utf-8-sig", _UTF8
    return "cp1252", _CP1252


def _read_some(binary: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, those there are: a pipe being fed must not block (read1)."""
    read1 = getattr(binary, "read1", None)
    data = read1(size) if read1 is not None else binary.read(size)
    return bytes(data)


def _rewound(binary: BinaryIO, head: bytes) -> BinaryIO:
    """`binary` read again from where `head` began."""
    try:
        binary.seek(-len(head), io.SEEK_CUR)
        return binary
    except (OSError, ValueError):  # a pipe: `head` is served first
        return io.BufferedReader(_Prefixed(head, binary))


class _Prefixed(io.RawIOBase):
    """`head`, then the rest of `binary`."""

    def __init__(self, head: bytes, binary: BinaryIO) -> None:
        self._head, self._binary = memoryview(head), binary

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(target), len(self._head))
            target[:size], self._head = self._head[:size], self._head[size:]
            return size
        data = _read_some(self._binary, len(target))
        target[:len(data)] = data
        return len(data)


def _position(binary: BinaryIO) -> int:
    try:
        return binary.tell()
    except OSError:  # not seekable: no byte progress
        return 0


# --- physical lines --------------------------------------------------------------------

class _Lines:
    """The physical lines of a text, each read at most _READ characters at a time, with
    lines read ahead pushed back to be read again. `number`: the last line's."""

    def __init__(self, text: io.TextIOWrapper, universal: bool) -> None:
        self._readline = text.readline
        self._back: list[str] = []  # the next line last
        self._ends = ("\n", "\r") if universal else ("\n",)
        self.number = 0

    def read(self) -> str:
        """The next line with its line break; "" at the end of the file."""
        line = self._back.pop() if self._back else self._readline(_READ)
        if line:
            self.number += 1
        return line

    def push(self, lines: list[str]) -> None:
        """Lines read after the current one, to be read again."""
        self._back.extend(reversed(lines))
        self.number -= len(lines)

    def too_long(self, line: str) -> bool:
        """Whether `line` is over ROW_LIMIT characters; if so, the rest of it is dropped."""
        if len(line) <= ROW_LIMIT or len(line.rstrip("\r\n")) <= ROW_LIMIT:
            return False
        while len(line) == _READ and not line.endswith(self._ends):
            line = self._readline(_READ)  # a piece of the line: dropped
        if len(line) == _READ and line.endswith("\r"):  # a cut may split \r\n
            after = self._readline(_READ)
            if after and after != "\n":
                self._back.append(after)
        return True


# --- CSV -------------------------------------------------------------------------------

class _Syntax:
    """The quoting of one delimiter: what a whole row is, and what a row is while one of
    its quoted fields is still open. Possessive repeats: no backtracking on bad lines."""

    def __init__(self, delimiter: str) -> None:
        d = re.escape(delimiter)
        field = f'(?:"[^"]*+(?:""[^"]*+)*+"|[^"{d}\\r\\n]*+)'
        self.delimiter = delimiter
        self._between = f'"{delimiter}"'
        self.row = re.compile(f"{field}(?:{d}{field})*+")
        self.opened = re.compile(f'(?:{field}{d})*+"[^"]*+(?:""[^"]*+)*+')

    def fields(self, parts: list[str]) -> list[str] | None:
        """The fields of a row over the physical lines `parts`; None if it is not valid."""
        if len(parts) == 1:
            return self.line_fields(parts[0], parts[0].count('"'))
        if not self.row.fullmatch("".join(parts).rstrip("\r\n")):
            return None
        return next(csv.reader(parts, delimiter=self.delimiter), [])

    def line_fields(self, line: str, quotes: int) -> list[str] | None:
        """The fields of a one-line row holding `quotes` quotes; None if it is not valid."""
        text = line.rstrip("\r\n")
        if text[:1] == '"' == text[-1:]:  # every field quoted, as some tools write
            fields = text[1:-1].split(self._between)
            if quotes == 2 * len(fields):  # no other quote: nothing to undouble
                return fields
        if not self.row.fullmatch(text):
            return None
        return next(csv.reader([text], delimiter=self.delimiter), [])


class CsvSource:
    """A CSV file with a header naming its columns, one of them `phone` (any case)."""

    def __init__(self, binary: BinaryIO, *, encoding: str | None = None,
                 delimiter: str | None = None) -> None:
        self._binary, text, self.encoding = _decoded(binary, encoding, True, newline="")
        self._lines = _Lines(text, universal=True)
        self.columns: Sequence[str] = self._read_header(delimiter)
        self._phone_index = _phone_column(self.columns)

    def bytes_read(self) -> int:
        return _position(self._binary)

    def select(self, names: Sequence[str], optional: Sequence[str] = ()) -> Iterator[Record]:
        missing = [name for name in names if name not in self.columns]
        if missing:
            listed = ", ".join(f"{{{name}}}" for name in missing)
            raise IngestError(f"the text uses {listed} but the CSV header has no such column")
        absent = len(self.columns)  # the index of a column the file does not have
        indexes = [self._phone_index, *(self.columns.index(name) for name in names),
                   *(absent if index is None else index
                     for index in map(self.optional_index, optional))]
        return self._records(indexes, [PHONE, *names, *optional])

    def optional_index(self, name: str) -> int | None:
        """The column named `name` in any case, None if the header has none."""
        found = [i for i, column in enumerate(self.columns) if column.lower() == name]
        if len(found) > 1:
            numbers = " and ".join(str(i + 1) for i in found)
            raise IngestError(f"the header has more than one {name} column (columns {numbers})")
        return found[0] if found else None

    def _read_header(self, delimiter: str | None) -> list[str]:
        """The first line with a non-blank field; sets the delimiter, given or detected."""
        while line := self._lines.read():
            number = self._lines.number
            if self._lines.too_long(line):
                raise IngestError(f"line {number}: the header is longer than "
                                  f"{ROW_LIMIT:,} characters")
            if sep := _SEP_LINE.fullmatch(line):  # Excel's hint, not the header
                delimiter = delimiter or sep.group(1)
                continue
            parts = self._gather(line, None) if '"' in line else [line]
            if isinstance(parts, str):
                raise IngestError(f"line {number}: the header is not valid CSV: {parts}")
            self._syntax = _Syntax(delimiter or _delimiter_of(parts))
            fields = self._syntax.fields(parts)
            if fields is None:
                raise IngestError(f"line {number}: the header is not valid CSV: {STRAY_QUOTE}")
            if any(field.strip() for field in fields):
                return [field.strip() for field in fields]
        raise IngestError("the file is empty")

    @property
    def delimiter(self) -> str:
        return self._syntax.delimiter

    def _records(self, indexes: list[int], names: list[str]) -> Iterator[Record]:
        width, read, delimiter = len(self.columns), self._lines.read, self.delimiter
        all_present = max(indexes) < width
        while line := read():
            start = self._lines.number
            if '"' in line or len(line) > ROW_LIMIT:  # the careful way, rarely
                fields = self._careful(line)
                if isinstance(fields, str):
                    yield Record(start, None, f"malformed CSV row: {fields}")
                    continue
            else:
                fields = line.rstrip("\r\n").split(delimiter)
            record = _csv_record(start, fields, width, indexes, names, all_present,
                                 self.encoding)
            if record is not None:
                yield record

    def _careful(self, line: str) -> list[str] | str:
        """The fields of the row starting with `line`, else why that line is rejected."""
        if len(line) > ROW_LIMIT and self._lines.too_long(line):
            return _TOO_LONG
        quotes = line.count('"')
        if not quotes % 2:  # quotes closed on the line: the row is that line
            fields = self._syntax.line_fields(line, quotes)
            return STRAY_QUOTE if fields is None else fields
        parts = self._gather(line, self._syntax.opened)
        if isinstance(parts, str):
            return parts
        fields = self._syntax.fields(parts)
        if fields is not None and len(fields) == len(self.columns):
            return fields
        # Trusted over several lines only with the header's columns: a stray quote closed
        # by another one further down rarely makes them.
        self._lines.push(parts[1:])
        if fields is None:
            return STRAY_QUOTE
        return (f"quote closed {len(parts) - 1} line(s) further, making a row of "
                f"{len(fields)} fields (the header has {len(self.columns)})")

    def _gather(self, first: str, opened: re.Pattern[str] | None) -> list[str] | str:
        """The physical lines of the row starting with `first`: up to the one closing its
        last quote. Else why `first` is rejected (the lines after it pushed back).
        `opened`: what the lines may be while a quote is open; None: anything."""
        parts, quotes, size = [first], first.count('"'), len(first)
        while quotes % 2:
            reason = _unclosed(parts, size, opened)
            if reason is None:
                line = self._lines.read()
                if line:
                    parts.append(line)
                    quotes, size = quotes + line.count('"'), size + len(line)
                    continue
                reason = "quote not closed before the end of the file"
            self._lines.push(parts[1:])
            return reason
        if size > ROW_LIMIT:
            self._lines.push(parts[1:])
            return f"row longer than {ROW_LIMIT:,} characters"
        return parts


def _unclosed(parts: list[str], size: int, opened: re.Pattern[str] | None) -> str | None:
    """Why a row whose quote is still open after `parts` cannot go on; None if it can."""
    if opened is not None and not opened.fullmatch("".join(parts)):
        return STRAY_QUOTE
    if len(parts) >= ROW_LINES:
        return f"quote not closed within {ROW_LINES} lines"
    if size > ROW_LIMIT:
        return f"quote not closed within {ROW_LIMIT:,} characters"
    return None


def _delimiter_of(parts: list[str]) -> str:
    """The delimiter making a phone column of the header, else the most columns."""
    def score(delimiter: str) -> tuple[bool, int]:
        fields = _Syntax(delimiter).fields(parts) or []
        return any(field.strip().lower() == PHONE for field in fields), len(fields)
    return max(DELIMITERS, key=score)  # max: the first of equals


def _csv_record(line: int, fields: list[str], width: int, indexes: list[int],
                names: list[str], all_present: bool, encoding: str) -> Record | None:
    """The record of one CSV row, or None for a row with nothing in it (`,,,`).
    An index of `width` is a column the file does not have (`all_present` is False)."""
    if len(fields) > width:
        if not any(field.strip() for field in fields):
            return None
        return Record(line, None, f"row has {len(fields)} fields, the header has {width}")
    if len(fields) == width and all_present:
        values: list[str | None] = [fields[i] for i in indexes]
    else:  # a short row, or absent columns (index `width`): no value
        values = [fields[i] if i < len(fields) else None for i in indexes]
    if not values[0] and not any(field.strip() for field in fields):
        return None
    error = bad_text_column(values, names, encoding) if _maybe_bad_text(fields) else None
    return Record(line, None, error) if error else Record(line, values, None)


def _phone_column(columns: Sequence[str]) -> int:
    found = [i for i, name in enumerate(columns) if name.lower() == PHONE]
    if len(found) > 1:
        numbers = " and ".join(str(i + 1) for i in found)
        raise IngestError(f"the header has more than one phone column (columns {numbers})")
    if found:
        return found[0]
    if any(_LOOKS_LIKE_DATA.search(name) for name in columns):
        raise IngestError("no 'phone' column: the first line looks like data, not a header "
                          "naming the columns")
    listed = ", ".join(repr(name) for name in columns[:20])
    raise IngestError(f"no 'phone' column in the header (columns: {listed})")


# --- JSON Lines ------------------------------------------------------------------------

class JsonlSource:
    """One JSON object per line, with a "phone" key; other keys are placeholder values."""

    columns: Sequence[str] | None = None
    delimiter: str | None = None

    def __init__(self, binary: BinaryIO, *, encoding: str | None = None) -> None:
        # JSON Lines are separated by \n only; a stray \r is whitespace to the JSON parser.
        self._binary, text, self.encoding = _decoded(binary, encoding, False, newline="\n")
        self._lines = _Lines(text, universal=False)
        self._first = self._first_line()

    def bytes_read(self) -> int:
        return _position(self._binary)

    def select(self, names: Sequence[str], optional: Sequence[str] = ()) -> Iterator[Record]:
        wanted = [PHONE, *names]
        yield self._record(*self._first, wanted, optional)
        lines = self._lines
        while text := lines.read():
            if lines.too_long(text):
                yield Record(lines.number, None, _TOO_LONG)
            elif text.strip():
                yield self._record(lines.number, text, wanted, optional)

    def _record(self, line: int, text: str | None, wanted: list[str],
                optional: Sequence[str]) -> Record:
        if text is None:
            return Record(line, None, _TOO_LONG)
        return _json_record(line, text, wanted, optional, self.encoding)

    def _first_line(self) -> tuple[int, str | None]:
        """The first non-blank line (None: too long, rejected when reading starts)."""
        while text := self._lines.read():
            if self._lines.too_long(text):
                return self._lines.number, None
            if text.strip():
                return self._lines.number, text
        raise IngestError("the file is empty")


def _json_record(line: int, text: str, wanted: list[str], optional: Sequence[str] = (),
                 encoding: str = _UTF8) -> Record:
    try:
        obj = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return Record(line, None, f"invalid JSON: {exc.msg} at column {exc.colno}")
    except ValueError:  # not a JSONDecodeError: an integer beyond Python's digit limit
        return Record(line, None, "invalid JSON: number too long")
    except RecursionError:
        return Record(line, None, "invalid JSON: nested too deeply")
    if not isinstance(obj, dict):
        return Record(line, None, f"JSON line is not an object (got {_json_kind(obj)})")
    values = [_as_text(obj.get(name)) for name in wanted]
    if optional:
        values += [_as_text(_get_any_case(obj, name)) for name in optional]
        wanted = [*wanted, *optional]
    error = bad_text_column(values, wanted, encoding)
    return Record(line, None, error) if error else Record(line, values, None)


def _get_any_case(obj: dict[str, Any], name: str) -> Any:
    """obj[name] with the key in any case (`name` is lower-case)."""
    if name in obj:
        return obj[name]
    return next((value for key, value in obj.items() if key.lower() == name), None)


def _as_text(value: Any) -> str | None:
    """A JSON value as placeholder text; null counts as missing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number"}
    return kinds.get(type(value), "null")
