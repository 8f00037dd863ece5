"""The lean SMSC's receipt bodies are byte for byte the full SMSC's standard receipts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.simulator.config import OUTCOME_NAMES
from dispatch.simulator.smsc.lean.receipts import ReceiptBodies, route, wire_address
from dispatch.simulator.smsc.messages import preview
from dispatch.simulator.smsc.receipts import ReceiptJob, ReceiptWriter
from dispatch.smpp import encode_pdu
from dispatch.text import encode
from tests.fuzz.strategies import LATIN1_NO_NUL

ADDRESSES = st.tuples(st.integers(0, 255), st.integers(0, 255),
                      st.text(LATIN1_NO_NUL, max_size=20))
TEXTS = st.sampled_from([
    ("Vote for us on Sunday, polls open at 8", 0),
    ("Chère électrice, le meeting est déplacé", 8),
    ("", 0),
    ("短信", 8),
])
NOW = 1_765_000_000.0  # a December 2025 afternoon


@settings(deadline=None)
@given(ADDRESSES, ADDRESSES, st.sampled_from(OUTCOME_NAMES),
       st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=24),
       TEXTS, st.floats(0, 3600))
def test_a_body_is_what_the_full_smsc_sends(
        source: tuple[int, int, str], destination: tuple[int, int, str], outcome: str,
        message_id: str, text: tuple[str, int], delay_s: float) -> None:
    message, coding = text
    payload = encode(message, "ucs2" if coding == 8 else "gsm7")
    job = ReceiptJob(message_id, outcome, NOW, preview(payload, coding),
                     (*destination, *source))
    expected = encode_pdu(ReceiptWriter("standard").pdu(job, NOW + delay_s))[16:]
    bodies = ReceiptBodies(OUTCOME_NAMES)
    body = bodies.body(route(wire_address(*source), wire_address(*destination)),
                       message_id.encode(), outcome, bodies.dates(NOW, NOW + delay_s),
                       bodies.preview(payload, coding))
    assert body == expected
