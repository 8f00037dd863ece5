"""Fuzzing the delivery-receipt text parser ("id:… sub:… stat:DELIVRD …") and the
receipt reading around it: never raises, whatever the text; every field found is a
piece of the text; a well-formed receipt's fields come back as written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dispatch.smpp.receipts import (
    MessageState,
    normalise_message_id,
    parse_receipt_date,
    parse_receipt_text,
    stat_to_state,
)

from .profiles import fed, fuzz, mutants
from .strategies import NASTY_CHARACTERS, NASTY_TEXT

KEYS = ["id:", "sub:", "dlvrd:", "submit date:", "done date:", "submit_date:", "stat:",
        "err:", "text:", "Text:", "ID:", "STAT:", " ", "  ", "\0", "\ud800"]
# Texts made of receipt keys and nasty values in any order: reaches every branch.
RECEIPT_LIKE = st.lists(st.one_of(st.sampled_from(KEYS), NASTY_TEXT), max_size=20).map("".join)
VALUE = st.text(st.characters(blacklist_categories=["Zs", "Zl", "Zp", "Cc"]), max_size=20)


@fuzz(weight=6)
@given(st.one_of(RECEIPT_LIKE, NASTY_TEXT, st.text(NASTY_CHARACTERS, max_size=2000)),
       st.sampled_from([None, 10, 16]), st.integers(0, 2**32 - 1))
def test_any_text_parses_without_raising(text: str, base: int | None, seed: int) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    variants = [text, *(m.decode("utf-8", "surrogateescape") for m in mutants(raw, seed))]
    fed("receipts.text", len(variants))
    for variant in variants:
        parsed_as_expected(variant, base)


def parsed_as_expected(text: str, base: int | None) -> None:
    fields = parse_receipt_text(text)
    for name in ("id", "sub", "dlvrd", "submit_date", "done_date", "stat", "err", "text"):
        value = getattr(fields, name)
        assert value is None or value in text
    assert isinstance(stat_to_state(fields.stat), MessageState)
    done = parse_receipt_date(fields.done_date)
    assert done is None or fields.done_date is not None
    key = normalise_message_id(fields.id or "", base)
    assert normalise_message_id(key) == key  # a key is its own key (as text)
    assert normalise_message_id(key, None if base is None else 10) == key  # decimal stays


@fuzz(weight=6)
@given(VALUE.filter(lambda v: ":" not in v), st.sampled_from(
    ["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "ENROUTE", "ACCEPTD", "DELETED", "UNKNOWN"]),
    VALUE.filter(lambda v: ":" not in v), NASTY_TEXT)
def test_a_well_formed_receipt_reads_as_written(
    message_id: str, stat: str, err: str, body: str,
) -> None:
    fed("receipts.text.well_formed")
    text = (f"id:{message_id} sub:001 dlvrd:001 submit date:2401151200 "
            f"done date:2401151201 stat:{stat} err:{err} text:{body}")
    fields = parse_receipt_text(text)
    assert (fields.id, fields.stat, fields.err, fields.text) == (message_id, stat, err, body)
    assert stat_to_state(fields.stat).name[:3] == stat[:3] or stat == "UNDELIV"
