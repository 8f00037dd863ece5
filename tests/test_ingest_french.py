"""What spreadsheets export in France (issue 15): Windows-1252 or UTF-8 with a BOM, `;` or
tab delimiters; and broken rows that cost their own line, never the lines after them."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from dispatch.ingest import ROW_LIMIT, ROW_LINES, IngestError, Record, RowSource, open_source
from dispatch.settings import Settings
from dispatch.store.redis import Redis
from tests.test_enqueue import run, write

FRENCH = "phone;prénom;ville\n0612345678;Zoé;L’Haÿ-les-Roses\n0622222222;Œdipe;Besançon €\n"
FRENCH_ROWS = [Record(2, ["0612345678", "Zoé", "L’Haÿ-les-Roses"], None),
               Record(3, ["0622222222", "Œdipe", "Besançon €"], None)]


def source(data: bytes, **options: Any) -> RowSource:
    return open_source(io.BytesIO(data), "csv", **options)


def records(data: bytes, names: list[str] | None = None, **options: Any) -> list[Record]:
    return list(source(data, **options).select(names or []))


def rows(count: int, first: int = 0) -> bytes:
    return b"".join(b"06%08d,x\n" % i for i in range(first, first + count))


# --- encodings -------------------------------------------------------------------------

def test_windows_1252_is_detected_with_its_accents_euro_and_apostrophe() -> None:
    found = source(FRENCH.encode("cp1252"))
    assert (found.encoding, found.delimiter) == ("Windows-1252", ";")
    assert list(found.select(["prénom", "ville"])) == FRENCH_ROWS


def test_latin_1_is_read_as_windows_1252() -> None:
    data = "phone,nom\n0612345678,Hélène Français-Dupré à Gaëlle\n".encode("latin-1")
    assert records(data, ["nom"]) == [
        Record(2, ["0612345678", "Hélène Français-Dupré à Gaëlle"], None)]
    # named latin-1, the 0x80-0x9F bytes are what spreadsheets mean by them: €, ’, œ
    data = b"phone,n\n0612345678,\x80 \x92 \x9c\n"
    assert records(data, ["n"], encoding="latin-1") == [
        Record(2, ["0612345678", "€ ’ œ"], None)]


def test_utf_8_with_a_bom_and_semicolons() -> None:
    found = source(b"\xef\xbb\xbf" + FRENCH.encode())
    assert (found.encoding, found.delimiter, found.columns) == (
        "UTF-8", ";", ["phone", "prénom", "ville"])
    assert list(found.select(["prénom", "ville"])) == FRENCH_ROWS


def test_one_stray_byte_is_not_enough_to_leave_utf_8() -> None:
    """The rule: a wrong UTF-8 guess rejects rows loudly; given, the encoding is obeyed."""
    data = "phone,n\n0612345678,Zoé\n".encode("cp1252")
    assert records(data, ["n"]) == [Record(2, None, "column 'n' is not valid UTF-8")]
    assert records(data, ["n"], encoding="cp1252") == [Record(2, ["0612345678", "Zoé"], None)]


def test_a_utf_8_file_read_as_the_caller_says() -> None:
    found = source("phone,n\n0612345678,é\n".encode(), encoding="cp1252")
    assert found.encoding == "cp1252"
    assert list(found.select(["n"])) == [Record(2, ["0612345678", "Ã©"], None)]


def test_bad_bytes_after_the_detected_start_reject_their_row_only() -> None:
    data = b"phone,n\n" + rows(120_000) + b"0699999999,Zo\xe9\n0698888888,ok\n"
    assert len(data) > 1 << 20  # past what detection looks at
    found = source(data)
    assert found.encoding == "UTF-8"
    last = list(found.select(["n"]))[-2:]
    assert last == [Record(120_002, None, "column 'n' is not valid UTF-8"),
                    Record(120_003, ["0698888888", "ok"], None)]


def test_windows_1252_with_undefined_bytes_names_the_encoding() -> None:
    data = "phone,n\n0612345678,é\n0622222222,à\x81\n".encode("latin-1")
    assert records(data, ["n"]) == [Record(2, ["0612345678", "é"], None),
                                    Record(3, None, "column 'n' is not valid Windows-1252")]


def test_unknown_encoding_is_named() -> None:
    with pytest.raises(IngestError, match=r"^unknown encoding 'klingon'$"):
        source(b"phone\n", encoding="klingon")


@pytest.mark.parametrize("name", ["utf-16", "rot13"])
def test_encodings_that_cannot_be_read_line_by_line_are_refused(name: str) -> None:
    with pytest.raises(IngestError, match=rf"^encoding '{name}' is not supported"):
        source(b"phone\n", encoding=name)


def test_a_utf_16_file_is_refused_with_what_to_do() -> None:
    with pytest.raises(IngestError, match=r"^the file is UTF-16 .*save it as CSV UTF-8$"):
        source("phone\tnom\n".encode("utf-16"))


def test_a_pipe_is_read_whole_after_detection() -> None:
    class Pipe(io.RawIOBase):  # not seekable, gives a few bytes at a time
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(min(len(buffer), 1000))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    data = FRENCH.encode("cp1252") + "".join(
        f"06{i:08d};Zoé;Lyon\n" for i in range(5000)).encode("cp1252")
    found = open_source(io.BufferedReader(Pipe(data)), "csv")
    assert found.encoding == "Windows-1252"
    read = list(found.select(["prénom"]))
    assert read[:2] == [Record(2, ["0612345678", "Zoé"], None),
                        Record(3, ["0622222222", "Œdipe"], None)]
    assert (len(read), read[-1]) == (5002, Record(5003, ["0600004999", "Zoé"], None))


# --- delimiters ------------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_the_one_making_a_phone_column(delimiter: str) -> None:
    header = delimiter.join(["nom", "phone", "note, ou pas; vraiment"])
    data = f"{header}\nAna{delimiter}0612345678{delimiter}x\n".encode()
    found = source(data)
    assert found.delimiter == delimiter
    assert list(found.select(["nom"])) == [Record(2, ["0612345678", "Ana"], None)]


def test_a_header_of_just_phone_is_read_with_commas() -> None:
    assert source(b"phone\n0612345678\n").delimiter == ","


def test_a_quoted_header_with_semicolons() -> None:
    found = source(b'"phone";"nom, pr\xc3\xa9nom"\n"0612345678";"Ana"\n')
    assert (found.delimiter, found.columns) == (";", ["phone", "nom, prénom"])


def test_excel_sep_line_gives_the_delimiter() -> None:
    found = source(b"sep=|\nphone|nom\n0612345678|Ana\n")
    assert (found.delimiter, list(found.select(["nom"]))) == (
        "|", [Record(3, ["0612345678", "Ana"], None)])


def test_an_explicit_delimiter_is_obeyed() -> None:
    assert records(b"phone|n\n0612345678|a;b,c\n", ["n"], delimiter="|") == [
        Record(2, ["0612345678", "a;b,c"], None)]
    with pytest.raises(IngestError, match=r"^no 'phone' column in the header "
                                          r"\(columns: 'phone;nom'\)$"):
        source(b"phone;nom\n", delimiter=",")


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n"])
def test_a_delimiter_must_be_one_usable_character(delimiter: str) -> None:
    with pytest.raises(IngestError, match=r"^the delimiter must be one character"):
        source(b"phone\n", delimiter=delimiter)


def test_a_delimiter_is_for_csv_only() -> None:
    with pytest.raises(IngestError, match=r"^a delimiter applies to CSV files"):
        open_source(io.BytesIO(b'{"phone": "1"}\n'), "jsonl", delimiter=";")


# --- broken rows -----------------------------------------------------------------------

def test_an_unclosed_quote_costs_its_own_line_only() -> None:
    data = b"phone,n\n0611111111,\"never closed\n" + rows(999)
    read = records(data, ["n"])
    assert read[0] == Record(2, None, f"malformed CSV row: quote not closed within "
                                      f"{ROW_LINES} lines")
    assert len(read) == 1000
    assert all(r.error is None for r in read[1:])
    assert [r.line for r in read] == list(range(2, 1002))


async def test_enqueue_counts_a_broken_line_as_one_row(redis: Redis, settings: Settings,
                                                      tmp_path: Path) -> None:
    numbers = "".join(f"0612{i:06d},Bob\n" for i in range(999))
    path = write(tmp_path, 'phone,first_name\n0611111111,"Ana\n' + numbers)
    report = await run(redis, settings, path)
    assert (report.rows, report.accepted, report.rejected) == (1000, 999, 1)
    assert report.errors == [(2, f"malformed CSV row: quote not closed within {ROW_LINES} lines")]


def test_a_quote_in_the_middle_of_a_field_rejects_that_line() -> None:
    data = b'phone,n\n0611111111,ab"c\n0622222222,"x"y\n0633333333,ok\n0644444444,"a""b"\n'
    assert records(data, ["n"]) == [
        Record(2, None, "malformed CSV row: quote in the middle of a field"),
        Record(3, None, "malformed CSV row: quote in the middle of a field"),
        Record(4, ["0633333333", "ok"], None),
        Record(5, ["0644444444", 'a"b'], None)]


def test_a_quote_never_closed_at_the_end_of_the_file() -> None:
    assert records(b'phone,n\n0611111111,"x\n0622222222,y', ["n"]) == [
        Record(2, None, "malformed CSV row: quote not closed before the end of the file"),
        Record(3, ["0622222222", "y"], None)]


def test_a_field_may_span_lines_within_the_bound() -> None:
    spanning = "\n".join(f"l{i}" for i in range(ROW_LINES)).encode()
    data = (b'phone,n\n0611111111,"deux\r\nlignes"\r\n0622222222,"' + spanning + b'"\n'
            b"0633333333,z\n")
    assert records(data, ["n"]) == [
        Record(2, ["0611111111", "deux\r\nlignes"], None),
        Record(4, ["0622222222", spanning.decode()], None),
        Record(4 + ROW_LINES, ["0633333333", "z"], None)]


def test_a_field_spanning_one_line_too_many_is_rejected_then_its_lines_read() -> None:
    lines = [f"06{i:08d},x" for i in range(ROW_LINES)]
    data = ('phone,n\n0611111111,"start\n' + "\n".join(lines) + '"\n').encode()
    read = records(data, ["n"])
    assert read[0] == Record(2, None, f"malformed CSV row: quote not closed within "
                                      f"{ROW_LINES} lines")
    assert read[1] == Record(3, ["0600000000", "x"], None)
    assert read[-1] == Record(2 + ROW_LINES, None,
                              "malformed CSV row: quote in the middle of a field")
    assert len(read) == ROW_LINES + 1  # one row a physical line


def test_a_quote_closed_further_into_the_wrong_columns_costs_its_line() -> None:
    data = b'phone,n\n0611111111,"open\n0622222222,ok\nclose",x\n0633333333,ok\n'
    assert records(data, ["n"]) == [
        Record(2, None, "malformed CSV row: quote closed 2 line(s) further, making a row "
                        "of 3 fields (the header has 2)"),
        Record(3, ["0622222222", "ok"], None),
        Record(4, None, "malformed CSV row: quote in the middle of a field"),
        Record(5, ["0633333333", "ok"], None)]


def test_garbage_with_stray_quotes_costs_one_row_a_broken_line() -> None:
    garbage = [b'"', b'a,"b', b'c"d,e', b'"a"b"', b'x,y"', b'"z', b'1,"2",3"']
    body = b"".join(b"%s\n06%08d,ok\n" % (garbage[i % len(garbage)], i) for i in range(700))
    read = records(b"phone,n\n" + body, ["n"])
    assert len(read) == 1400
    assert sum(r.error is None for r in read) == 700
    assert [r.line for r in read if r.error is None] == list(range(3, 1402, 2))


def test_a_1_mb_line_is_rejected_with_its_number_and_the_next_lines_read() -> None:
    data = b"phone,n\n0611111111,ok\n0622222222," + b"x" * 1_000_000 + b"\n" + rows(3)
    assert records(data, ["n"]) == [
        Record(2, ["0611111111", "ok"], None),
        Record(3, None, f"malformed CSV row: line longer than {ROW_LIMIT:,} characters"),
        Record(4, ["0600000000", "x"], None), Record(5, ["0600000001", "x"], None),
        Record(6, ["0600000002", "x"], None)]


def test_a_long_line_is_never_held_whole() -> None:
    line = b"0622222222," + b"x" * 8_000_000
    data = b"phone,n\n" + line + b"\n0611111111,ok\n"
    tracemalloc.start()
    try:
        read = records(data, ["n"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.line for r in read] == [2, 3]
    assert peak < len(line) // 2  # about 2 MB: the first MiB for detection, then pieces


def test_a_long_line_cut_between_cr_and_lf_keeps_the_numbering() -> None:
    long = b"0622222222," + b"x" * (ROW_LIMIT - 10)  # ROW_LIMIT + 1 characters
    data = b"phone,n\r\n" + long + b"\r\n0611111111,ok\r\n"
    assert records(data, ["n"])[1:] == [Record(3, ["0611111111", "ok"], None)]


def test_a_row_of_exactly_the_limit_is_read() -> None:
    value = "x" * (ROW_LIMIT - 11)
    data = f"phone,n\r\n0622222222,{value}\r\n".encode()
    assert records(data, ["n"]) == [Record(2, ["0622222222", value], None)]


def test_the_header_must_be_readable() -> None:
    with pytest.raises(IngestError, match=rf"^line 2: the header is longer than "
                                          rf"{ROW_LIMIT:,} characters$"):
        source(b"\nphone," + b"x" * ROW_LIMIT + b"\n")
    with pytest.raises(IngestError, match=r"^line 1: the header is not valid CSV: "
                                          r"quote in the middle of a field$"):
        source(b'phone,na"m"e\n')
    with pytest.raises(IngestError, match=r"^line 1: the header is not valid CSV: "
                                          r"quote not closed before the end of the file$"):
        source(b'phone,"name\n')


def test_crlf_and_a_last_line_without_newline() -> None:
    data = b'phone;n\r\n0611111111;"a;b"\r\n\r\n0622222222;c'
    assert records(data, ["n"]) == [Record(2, ["0611111111", "a;b"], None),
                                    Record(4, ["0622222222", "c"], None)]


def test_every_field_quoted() -> None:
    data = b'"phone","n","m"\n"0611111111","a,b",""\n"0622222222","say ""hi""","x"\n'
    assert records(data, ["n", "m"]) == [
        Record(2, ["0611111111", "a,b", ""], None),
        Record(3, ["0622222222", 'say "hi"', "x"], None)]


def test_progress_reaches_the_end_of_the_file() -> None:
    data = b"phone,n\n" + rows(50_000)
    found = source(data)
    assert sum(1 for _ in found.select(["n"])) == 50_000
    assert found.bytes_read() == len(data)


# --- JSON Lines ------------------------------------------------------------------------

def test_jsonl_long_line_is_rejected_and_the_next_read() -> None:
    data = b'{"phone": "' + b"1" * 500_000 + b'"}\n{"phone": "0611111111"}\n'
    read = list(open_source(io.BytesIO(data), "jsonl").select([]))
    assert read == [Record(1, None, f"line longer than {ROW_LIMIT:,} characters"),
                    Record(2, ["0611111111"], None)]


def test_jsonl_in_the_encoding_the_caller_gives() -> None:
    data = '{"phone": "0611111111", "n": "Zoé €"}\n'.encode("cp1252")
    found = open_source(io.BytesIO(data), "jsonl", encoding="cp1252")
    assert list(found.select(["n"])) == [Record(1, ["0611111111", "Zoé €"], None)]
    assert list(open_source(io.BytesIO(data), "jsonl").select(["n"])) == [
        Record(1, None, "column 'n' is not valid UTF-8")]
