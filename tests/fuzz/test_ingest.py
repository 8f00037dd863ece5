"""Fuzzing the campaign file reader (dispatch.ingest) and the row validation of an
enqueue run (dispatch.enqueue._Run.accept): any bytes, wrong encodings, NUL bytes, huge
fields, unclosed quotes. A file is refused with IngestError or read row by row; each row
is one Record with values or one reason; the values the messages use are valid text;
each record is accepted (queued entry that unpacks) or rejected with its line, never an
exception."""

from __future__ import annotations

import io
from typing import Final, cast

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from dispatch import consent
from dispatch.enqueue import TextRules, _Run, campaign_spec
from dispatch.ingest import ROW_LIMIT, IngestError, open_source
from dispatch.settings import Settings
from dispatch.store.campaigns import CampaignStore

from .profiles import fed, fuzz
from .strategies import HUGE_FIELD, NASTY_TEXT

NAMES: Final = ("name",)
TEXT: Final = "Bonjour {name}, votez ! STOP au 36111"
# Pieces CSV and JSON Lines files are made of, and what breaks them.
TOKENS: Final = [
    "phone", "name", "consent_source", "consent_date", "consent_slot", "PHONE", "Name",
    ",", ";", "\t", '"', '""', "\n", "\r\n", "\r", "\0", "+33612345678", "0612345678",
    "06 12 34 56 78", "web", "2024-01-15", "sep=;\n", "{", "}", "[", "]", ":", '"phone"',
    '"name"', "null", "true", "1e400", "9" * 5000, "\\ud800", "\\u0000", "é", "\ufeff",
    "\ud800", "\udcff", "x" * 300,
]
DOCUMENT: Final = st.lists(st.one_of(st.sampled_from(TOKENS), NASTY_TEXT), max_size=60)
ENCODINGS: Final = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le",
                    "shift_jis", "koi8-r"]


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """Raw bytes, or a document of tokens written in some encoding (surrogates escaped as
    the bytes no encoder writes), a BOM now and then, and bytes spliced in."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=2000))
    text = "".join(draw(DOCUMENT))
    if draw(st.booleans()):
        text = "phone,name,consent_source,consent_date\n" + text
    codec = draw(st.sampled_from(ENCODINGS))
    data = text.encode(codec, "surrogatepass" if codec.startswith("utf") else "replace")
    splice = draw(st.binary(max_size=8))
    at = draw(st.integers(0, len(data)))
    return data[:at] + splice + data[at:]


def _run(consent_required: bool) -> _Run:
    settings = Settings()
    spec, _ = campaign_spec(settings, "fuzz", TEXT, "default",
                            consent_required=consent_required,
                            rules=TextRules(allow_missing_sender=True))
    store = cast(CampaignStore, None)  # accept() never reaches the store
    return _Run(spec, settings, store, 1, None)


RUNS: Final = {required: _run(required) for required in (True, False)}


def read_all(data: bytes, fmt: str, encoding: str | None, delimiter: str | None,
             consent_required: bool) -> int:
    """Every record of the file through the run's validation; the number of records."""
    try:
        source = open_source(io.BytesIO(data), fmt, encoding=encoding, delimiter=delimiter)
        records = source.select(NAMES, consent.COLUMNS)
    except IngestError as exc:
        assert len(str(exc).splitlines()) == 1
        return 0
    run = RUNS[consent_required]
    rows, rejected, accepted = run.report.rows, run.report.rejected, 0
    last_line = 0
    count = 0
    for record in records:
        count += 1
        assert record.line > last_line  # each physical line starts at most one record
        last_line = record.line
        assert (record.values is None) != (record.error is None)
        if record.error is not None:
            assert len(record.error.splitlines()) == 1
        else:
            assert record.values is not None
            assert len(record.values) == 1 + len(NAMES) + len(consent.COLUMNS)
            used = [v for v in record.values if v is not None]
            assert all(isinstance(v, str) for v in used)
            "".join(used).encode("utf-8")  # valid text: no byte left undecoded
        item = run.accept(record)
        if item is not None:
            accepted += 1
            assert item.number.startswith("+") and item.number[1:].isdigit()
            number, values, *_ = msgpack.unpackb(item.payload)
            assert number == item.number and isinstance(values, list)
    assert run.report.rows - rows == count
    assert accepted + run.report.rejected - rejected == count
    assert source.bytes_read() >= 0
    return count


@fuzz(weight=2)
@given(files(), st.sampled_from(["csv", "jsonl"]),
       st.sampled_from([None, None, None, "utf-8", "latin-1", "cp1252", "utf-16", "rot13",
                        "no-such-codec", "ascii"]),
       st.sampled_from([None, None, ",", ";", "\t", "|", '"', "ab", "\n"]), st.booleans())
def test_any_file_is_read_row_by_row_or_refused(
    data: bytes, fmt: str, encoding: str | None, delimiter: str | None,
    consent_required: bool,
) -> None:
    fed(f"ingest.{fmt}")
    read_all(data, fmt, encoding, delimiter if fmt == "csv" else None, consent_required)


def test_a_ten_megabyte_field_is_rejected_alone() -> None:
    """A CSV row with one 10 MB field, an unclosed quote of 10 MB, and a JSONL line of
    10 MB: each rejected with its line; the rows around them read."""
    good = "+33612345678,Ann,web,2024-01-15\n"
    head = "phone,name,consent_source,consent_date\n"
    big = "x" * HUGE_FIELD
    for document, fmt in [
        (head + good + f"+33612345679,{big},web,2024-01-15\n" + good, "csv"),
        (head + good + f'+33612345679,"{big}\n' + good, "csv"),
        ('{"phone": "+33612345678", "name": "Ann"}\n' + f'{{"name": "{big}"}}\n'
         + '{"phone": "+33612345679", "name": "Bob"}\n', "jsonl"),
    ]:
        fed(f"ingest.{fmt}.10mb")
        source = open_source(io.BytesIO(document.encode()), fmt)
        records = list(source.select(NAMES, ()))
        errors = [r.error for r in records if r.error is not None]
        assert len(errors) >= 1 and all(len(e) < 200 for e in errors)
        assert [r.values[1] for r in records if r.values is not None][-1] in ("Ann", "Bob")
        assert ROW_LIMIT < HUGE_FIELD
