"""Reading campaign files: CSV or JSONL rows streamed from a binary file.

A source yields one `Record` per data row: its physical start line (1-based, the CSV header
is line 1), the phone value followed by the requested placeholder values then the
requested optional columns (None where the row has none), or the reason the row cannot be
read. Optional columns (the consent columns) are matched case-insensitively and may be
absent from the file. The file is decoded as UTF-8 with
surrogateescape so that one badly encoded row is rejected on its own instead of ending the
whole run. Nothing here holds more than one row at a time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, NamedTuple, Protocol

PHONE = "phone"
FORMATS = ("csv", "jsonl")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_LOOKS_LIKE_DATA = re.compile(r"\d{6}")


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


def open_source(binary: BinaryIO, fmt: str) -> RowSource:
    """A row source over `binary`; reads the CSV header (or the first JSONL line) at once."""
    return CsvSource(binary) if fmt == "csv" else JsonlSource(binary)


def bad_text_column(values: Sequence[str | None], names: Sequence[str]) -> str | None:
    """The reason a row holds text that was not valid UTF-8, naming the column, else None."""
    for value, name in zip(values, names, strict=True):
        if value is not None and not value.isascii() and _has_surrogates(value):
            return f"column {name!r} is not valid UTF-8"
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


def _decode(binary: BinaryIO, newline: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape",
                            newline=newline)


def _position(binary: BinaryIO) -> int:
    try:
        return binary.tell()
    except OSError:  # not seekable: no byte progress
        return 0


class CsvSource:
    """A CSV file with a header naming its columns, one of them `phone` (any case)."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        self._reader = csv.reader(_decode(binary, newline=""))
        self.columns: Sequence[str] = self._read_header()
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

    def _read_header(self) -> list[str]:
        for fields in self._reader:
            if any(field.strip() for field in fields):
                return [field.strip() for field in fields]
        raise IngestError("the file is empty")

    def _records(self, indexes: list[int], names: list[str]) -> Iterator[Record]:
        reader, width = self._reader, len(self.columns)
        all_present = max(indexes) < width
        last_line = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(last_line + 1, None, f"malformed CSV row: {exc}")
                last_line = reader.line_num
                continue
            start, last_line = last_line + 1, reader.line_num
            if fields:
                record = _csv_record(start, fields, width, indexes, names, all_present)
                if record is not None:
                    yield record


def _csv_record(line: int, fields: list[str], width: int, indexes: list[int],
                names: list[str], all_present: bool) -> Record | None:
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
    error = bad_text_column(values, names) if _maybe_bad_text(fields) else None
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


class JsonlSource:
    """One JSON object per line, with a "phone" key; other keys are placeholder values."""

    columns: Sequence[str] | None = None

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        # JSON Lines are separated by \n only; a stray \r is whitespace to the JSON parser.
        self._lines = enumerate(_decode(binary, newline="\n"), start=1)
        self._first = self._first_line()

    def bytes_read(self) -> int:
        return _position(self._binary)

    def select(self, names: Sequence[str], optional: Sequence[str] = ()) -> Iterator[Record]:
        wanted = [PHONE, *names]
        yield _json_record(*self._first, wanted, optional)
        for line, text in self._lines:
            if text.strip():
                yield _json_record(line, text, wanted, optional)

    def _first_line(self) -> tuple[int, str]:
        for line, text in self._lines:
            if text.strip():
                return line, text
        raise IngestError("the file is empty")


def _json_record(line: int, text: str, wanted: list[str], optional: Sequence[str] = ()
                 ) -> Record:
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
    error = bad_text_column(values, wanted)
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
