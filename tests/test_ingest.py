from __future__ import annotations

import io

import pytest

from dispatch.ingest import IngestError, Record, format_for, open_source


def csv_records(data: bytes, names: list[str] | None = None,
                optional: list[str] | None = None) -> list[Record]:
    return list(open_source(io.BytesIO(data), "csv").select(names or [], optional or []))


def jsonl_records(data: bytes, names: list[str] | None = None) -> list[Record]:
    return list(open_source(io.BytesIO(data), "jsonl").select(names or []))


def test_csv_phone_column_in_any_case_and_values_in_requested_order() -> None:
    data = b"first_name,PHONE,city\nAna,0612345678,Lyon\n"
    assert csv_records(data, ["city", "first_name"]) == [
        Record(2, ["0612345678", "Lyon", "Ana"], None)]


def test_csv_bom_and_crlf_are_tolerated() -> None:
    data = b"\xef\xbb\xbfphone,name\r\n0612345678,Ana\r\n"
    source = open_source(io.BytesIO(data), "csv")
    assert source.columns == ["phone", "name"]
    assert list(source.select(["name"])) == [Record(2, ["0612345678", "Ana"], None)]


def test_csv_line_numbers_are_where_each_row_starts() -> None:
    data = b'phone,note\n0611111111,"two\nlines"\n\n0622222222,x\n,\n , ,\n0633333333,y\n'
    lines = [record.line for record in csv_records(data, ["note"])]
    assert lines == [2, 5, 8]  # the blank line 4 and the empty rows on lines 6-7 are skipped


def test_csv_short_row_has_missing_values_and_long_row_is_rejected() -> None:
    data = b"name,city,phone\nAna\nBob,Lyon,0612345678,extra\n"
    assert csv_records(data, ["city"]) == [
        Record(2, [None, None], None),
        Record(3, None, "row has 4 fields, the header has 3"),
    ]


def test_csv_undecodable_bytes_in_a_used_column_name_it() -> None:
    data = "phone,name,note\n0612345678,Zo\xe9,ok\n".encode("latin-1")
    assert csv_records(data, ["name"]) == [
        Record(2, None, "column 'name' is not valid UTF-8")]


def test_csv_undecodable_bytes_in_an_unused_column_do_not_matter() -> None:
    data = b"phone,name,note\n0612345678,Zo\xc3\xa9,d\xe9j\xe0\n"  # UTF-8, then Latin-1
    assert csv_records(data, ["name"]) == [Record(2, ["0612345678", "Zoé"], None)]


def test_csv_field_too_large_is_one_rejected_row() -> None:
    data = b"phone,note\n0611111111," + b"x" * 200_000 + b"\n0622222222,ok\n"
    records = csv_records(data, ["note"])
    assert records[0].line == 2
    assert records[0].error is not None and records[0].error.startswith("malformed CSV row")
    assert records[1] == Record(3, ["0622222222", "ok"], None)


def test_csv_header_only_has_no_rows() -> None:
    assert csv_records(b"phone,name\n", ["name"]) == []


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b",,\n"])
def test_csv_empty_file_is_fatal(data: bytes) -> None:
    with pytest.raises(IngestError, match=r"^the file is empty$"):
        csv_records(data)


def test_csv_without_phone_column_lists_the_columns() -> None:
    with pytest.raises(IngestError, match=r"^no 'phone' column in the header \(columns: "
                                          r"'tel', 'name'\)$"):
        csv_records(b"tel,name\n0612345678,Ana\n")


def test_csv_without_header_never_shows_the_number() -> None:
    with pytest.raises(IngestError) as caught:
        csv_records(b"0612345678,Ana\n")
    assert "looks like data" in str(caught.value)
    assert "345" not in str(caught.value)


def test_csv_two_phone_columns_are_ambiguous() -> None:
    with pytest.raises(IngestError, match=r"more than one phone column \(columns 1 and 3\)"):
        csv_records(b"phone,name,Phone\n")


def test_csv_placeholder_without_column_is_named() -> None:
    with pytest.raises(IngestError, match=r"the text uses \{city\}, \{zip\} but the CSV header "
                                          r"has no such column"):
        csv_records(b"phone,name\n", ["name", "city", "zip"])


def test_jsonl_values_are_coerced_to_text() -> None:
    data = (b'{"phone": 33612345678, "n": 3, "f": 1.5, "b": true, "z": null, '
            b'"o": {"k": "\xc3\xa9"}}\n')
    assert jsonl_records(data, ["n", "f", "b", "z", "o", "absent"]) == [
        Record(1, ["33612345678", "3", "1.5", "true", None, '{"k": "é"}', None], None)]


def test_jsonl_blank_lines_skipped_and_bom_tolerated() -> None:
    data = b'\xef\xbb\xbf{"phone": "0611111111"}\n\n  \n{"phone": "0622222222"}\r\n'
    assert [(r.line, r.values) for r in jsonl_records(data)] == [
        (1, ["0611111111"]), (4, ["0622222222"])]


def test_jsonl_bad_lines_are_rejected_with_their_line() -> None:
    data = b'{"phone": "0611111111"}\n{"phone": \n[1, 2]\n"text"\n{"phone": "\xff"}\n'
    assert jsonl_records(data) == [
        Record(1, ["0611111111"], None),
        Record(2, None, "invalid JSON: Expecting value at column 11"),
        Record(3, None, "JSON line is not an object (got an array)"),
        Record(4, None, "JSON line is not an object (got a string)"),
        Record(5, None, "column 'phone' is not valid UTF-8"),
    ]


def test_jsonl_pathological_lines_are_rejected_not_fatal() -> None:
    data = b'{"phone": ' + b"1" * 5000 + b"}\n" + b"[" * 100_000 + b"\n"
    assert [r.error for r in jsonl_records(data)] == [
        "invalid JSON: number too long", "invalid JSON: nested too deeply"]


def test_jsonl_empty_file_is_fatal() -> None:
    with pytest.raises(IngestError, match=r"^the file is empty$"):
        jsonl_records(b"\n \n")


def test_jsonl_has_no_header() -> None:
    assert open_source(io.BytesIO(b'{"phone": "1"}\n'), "jsonl").columns is None


@pytest.mark.parametrize(("path", "fmt", "expected"), [
    ("a.csv", None, "csv"), ("a.txt", None, "csv"), ("a.JSONL", None, "jsonl"),
    ("a.ndjson", None, "jsonl"), ("a.csv", "jsonl", "jsonl"),
])
def test_format_from_extension_unless_given(path: str, fmt: str | None, expected: str) -> None:
    assert format_for(path, fmt) == expected


def test_unknown_format_is_fatal() -> None:
    with pytest.raises(IngestError, match="unknown format 'xml'"):
        format_for("a.csv", "xml")


def test_reading_is_streamed() -> None:
    """The source reads as the caller iterates: after one row, most of the file is unread."""
    rows = b"".join(b"06%08d,x\n" % i for i in range(100_000))
    binary = io.BytesIO(b"phone,n\n" + rows)
    source = open_source(binary, "csv")
    first = next(iter(source.select(["n"])))
    assert first.line == 2
    assert source.bytes_read() < len(binary.getvalue()) // 10


def test_optional_columns_in_any_case_absent_ones_have_no_value() -> None:
    data = b"Phone,name,CONSENT_SOURCE\n0612345678,Ana,web\n0622222222\n"
    assert csv_records(data, ["name"], ["consent_source", "consent_date"]) == [
        Record(2, ["0612345678", "Ana", "web", None], None),
        Record(3, ["0622222222", None, None, None], None)]


def test_an_optional_column_twice_is_refused() -> None:
    source = open_source(io.BytesIO(b"phone,consent_date,Consent_Date\n"), "csv")
    with pytest.raises(IngestError, match=r"^the header has more than one consent_date column "
                                          r"\(columns 2 and 3\)$"):
        list(source.select([], ["consent_date"]))


def test_optional_jsonl_keys_in_any_case() -> None:
    data = b'{"phone": "0612345678", "Consent_Source": "web", "consent_date": 5}\n'
    records = list(open_source(io.BytesIO(data), "jsonl").select(
        [], ["consent_source", "consent_date", "consent_slot"]))
    assert records == [Record(1, ["0612345678", "web", "5", None], None)]
