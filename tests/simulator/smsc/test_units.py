"""The SMSC's pure parts, without sockets: rate limits, the message book, receipt
dialects, the delivery queue, profiles."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dispatch.simulator import SimulatorConfig, SimulatorConfigError
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.profiles import PROFILES, profile_defaults
from dispatch.simulator.smsc.delivery import Deliveries, Delivery
from dispatch.simulator.smsc.messages import MessageBook, client_reference, preview
from dispatch.simulator.smsc.policy import RateLimiter, SubmitPolicy, TokenBucket, Verdict
from dispatch.simulator.smsc.receipts import ReceiptJob, ReceiptWriter, response_id
from dispatch.simulator.smsc.stats import SmscCounters
from dispatch.smpp import DeliverSm, Status, SubmitSm, Tag, Tlvs
from dispatch.smpp.receipts import MessageState, normalise_message_id, read_receipt
from dispatch.smpp.udh import UDHI, Content, concat_header, message_content
from dispatch.text import encode

# Rate limits.


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert not bucket.take(0.4)  # 0.8 token
    assert bucket.take(0.5)
    assert bucket.is_full(10.0)


def test_rate_limiter_forgets_idle_lines_beyond_its_bound() -> None:
    lines = RateLimiter(rate=1.0, burst=1.0, max_keys=10)
    for number in range(10):
        assert lines.allow(f"L{number}", 0.0)
    assert not lines.allow("L0", 0.0)
    assert lines.allow("L10", 5.0)  # the idle (full) buckets were forgotten
    assert len(lines) == 1
    assert RateLimiter(rate=10.0, burst=0.0).capacity == 10.0  # one second of the rate


def test_policy_checks_lines_first_then_window() -> None:
    config = SimulatorConfig(line_rate=1.0, line_burst=1.0, smpp_window=2)
    policy = SubmitPolicy(config, random.Random(1))
    assert policy.decide("A", None, 0, 0.0) is Verdict.ACCEPT
    assert policy.decide("A", None, 0, 0.0) is Verdict.LINE_THROTTLED
    assert policy.decide("B", None, 2, 0.0) is Verdict.QUEUE_FULL
    bind = policy.bind_bucket(0.0)
    assert bind is None


# The message book.


def part(sequence: int, total: int = 3, *, reference: str | None = None, ref: int = 5,
         payload: bytes = b"x") -> tuple[SubmitSm, Content]:
    tlvs: Tlvs = {0x1501: reference.encode() + b"\0"} if reference else {}
    pdu = SubmitSm(source_addr="L", destination_addr="33612345678", esm_class=UDHI,
                   short_message=concat_header(ref, total, sequence) + payload, tlvs=tlvs)
    return pdu, message_content(pdu.esm_class, pdu.short_message, pdu.tlvs)


def book() -> MessageBook:
    return MessageBook(Ledger("t"), lambda: "delivered", max_open=100)


def test_parts_in_any_order_are_one_message_without_a_reference() -> None:
    messages = book()
    acceptances = [messages.accept(*part(n)) for n in (2, 1, 3)]
    assert [a.new for a in acceptances] == [True, False, False]
    assert len({a.reference for a in acceptances}) == 1
    assert (messages.ledger.accepted, messages.ledger.duplicates) == (1, 0)
    assert messages.open_messages == 0
    again = [messages.accept(*part(n)) for n in (2, 1, 3)]
    assert [a.new for a in again] == [True, False, False]
    assert again[0].reference == acceptances[0].reference
    assert (messages.ledger.accepted, messages.ledger.duplicates) == (1, 1)


def test_a_part_accepted_twice_is_one_duplicate() -> None:
    messages = book()
    messages.accept(*part(1, reference="m"))
    messages.accept(*part(1, reference="m"))
    messages.accept(*part(2, reference="m"))
    assert (messages.ledger.accepted, messages.ledger.duplicates) == (1, 1)
    assert messages.ledger.is_accepted("m")


def test_open_messages_are_bounded() -> None:
    messages = MessageBook(Ledger("t"), lambda: "delivered", max_open=3)
    for ref in range(5):
        messages.accept(*part(1, ref=ref))
    assert (messages.open_messages, messages.forgotten) == (3, 2)


def test_client_reference_and_preview() -> None:
    assert client_reference(SubmitSm(tlvs={0x1501: b"abc\0"})) == "abc"
    assert client_reference(SubmitSm(tlvs={0x1501: b"\0"})) is None
    assert client_reference(SubmitSm()) is None
    assert preview(encode("🗳️" * 30, "ucs2"), 8) == "🗳️" * 10
    assert preview(encode("{[€]}" * 10, "gsm7"), 0) == "{[€]}" * 4


# Receipt dialects.


@pytest.mark.parametrize("receipt_format",
                         ["standard", "long-dates", "capital-text", "hex-ids", "no-text"])
def test_receipt_dialects_are_readable_and_ids_match(receipt_format: str) -> None:
    message_id = response_id("0a1b2c3d00000000ff", receipt_format)
    job = ReceiptJob(message_id, "expired", 1_700_000_000.0, "Bonjour à tous",
                     (1, 1, "33612345678", 5, 0, "CAMP"))
    pdu = ReceiptWriter(receipt_format).pdu(job, 1_700_000_100.0)
    bases = (10, 16) if receipt_format == "hex-ids" else (None, None)
    receipt = read_receipt(pdu, submit_id_base=bases[0], text_id_base=bases[1])
    assert receipt is not None and receipt.state is MessageState.EXPIRED
    assert pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] == message_id
    assert receipt.fields.id is not None
    assert normalise_message_id(receipt.fields.id, bases[1]) == receipt.message_key
    assert (receipt.fields.stat, receipt.fields.err) == ("EXPIRED", "002")
    digits = 12 if receipt_format == "long-dates" else 10
    assert receipt.fields.submit_date is not None and len(receipt.fields.submit_date) == digits
    text = pdu.short_message.decode()
    if receipt_format == "no-text":
        assert receipt.fields.text is None
    else:
        assert receipt.fields.text == "Bonjour ? tous"
        assert ("Text:" in text) == (receipt_format == "capital-text")
    if receipt_format == "hex-ids":
        assert message_id.isdigit() and receipt.fields.id == "A1B2C3D00000000FF"


# The delivery queue.


class FakeOutlet:
    def __init__(self, system_id: str, window: int = 10) -> None:
        self.system_id = system_id
        self.window = window
        self.awaiting: dict[int, Delivery] = {}
        self.sent: list[DeliverSm] = []
        self._sequence = 0

    def free_slots(self) -> int:
        return self.window - len(self.awaiting)

    def push(self, deliveries: list[Delivery], now: float) -> None:
        for delivery in deliveries:
            assert delivery.pdu is not None
            self._sequence += 1
            delivery.sent_at = now
            self.awaiting[self._sequence] = delivery
            self.sent.append(delivery.pdu)

    def ack_all(self, queue: Deliveries, status: int = 0, now: float = 0.0) -> None:
        for delivery in list(self.awaiting.values()):
            queue.acknowledged(delivery, status, now)
        self.awaiting.clear()


def job(number: int) -> ReceiptJob:
    return ReceiptJob(f"id{number}", "delivered", 0.0, "", (1, 1, "336", 1, 1, "337"))


def queue(**knobs: Any) -> tuple[Deliveries, SmscCounters]:
    counters = SmscCounters()
    return Deliveries(SimulatorConfig(**knobs), counters), counters


def test_receipts_wait_for_a_receiver_and_respect_its_window() -> None:
    deliveries, counters = queue()
    for number in range(15):
        deliveries.schedule_receipt(1.0, "acme", job(number), None)
    deliveries.release_due(0.5)
    assert deliveries.waiting == 0 and counters.receipts_pending == 15
    deliveries.release_due(1.0)
    assert deliveries.waiting == 15
    outlet = FakeOutlet("acme", window=10)
    deliveries.add_outlet(outlet, 1.0)
    assert len(outlet.sent) == 10 and deliveries.waiting == 5
    outlet.ack_all(deliveries)
    deliveries.pump("acme", 1.0)
    outlet.ack_all(deliveries)
    assert (counters.receipts_sent, counters.receipts_pending) == (15, 0)
    assert [p.tlvs[Tag.RECEIPTED_MESSAGE_ID] for p in outlet.sent] == [
        f"id{n}" for n in range(15)]


def test_receipts_prefer_the_transceiver_that_submitted() -> None:
    deliveries, _ = queue()
    first, second = FakeOutlet("acme"), FakeOutlet("acme")
    deliveries.add_outlet(first, 0.0)
    deliveries.add_outlet(second, 0.0)
    for number in range(4):
        deliveries.schedule_receipt(0.0, "acme", job(number), second)
    deliveries.release_due(0.0)
    assert (len(first.sent), len(second.sent)) == (0, 4)


def ids(sent: list[DeliverSm]) -> list[str]:
    return [str(pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID]) for pdu in sent]


def test_a_full_window_does_not_hold_up_the_receipts_of_another_bind() -> None:
    deliveries, _ = queue()
    first, second = FakeOutlet("acme", window=2), FakeOutlet("acme", window=2)
    deliveries.add_outlet(first, 0.0)
    deliveries.add_outlet(second, 0.0)
    for number in range(6):  # submitted alternately on the two transceivers
        deliveries.schedule_receipt(0.0, "acme", job(number), (first, second)[number % 2])
    deliveries.release_due(0.0)
    assert (ids(first.sent), ids(second.sent)) == (["id0", "id2"], ["id1", "id3"])
    second.ack_all(deliveries)
    deliveries.pump("acme", 0.0)
    # The second bind's next receipt goes although the first bind's window is still full.
    assert (ids(first.sent), ids(second.sent)) == (["id0", "id2"], ["id1", "id3", "id5"])
    first.ack_all(deliveries)
    deliveries.pump("acme", 0.0)
    assert ids(first.sent) == ["id0", "id2", "id4"]


def test_receipts_waiting_for_a_closed_transceiver_go_to_another_in_order() -> None:
    deliveries, counters = queue()
    gone, other = FakeOutlet("acme", window=1), FakeOutlet("acme", window=1)
    deliveries.add_outlet(gone, 0.0)
    deliveries.add_outlet(other, 0.0)
    for number in range(4):
        deliveries.schedule_receipt(0.0, "acme", job(number), gone)
    deliveries.release_due(0.0)
    assert (ids(gone.sent), ids(other.sent)) == (["id0"], [])
    deliveries.remove_outlet(gone, 1.0)  # id0 was never acknowledged: it goes first
    for _ in range(4):
        other.ack_all(deliveries)
        deliveries.pump("acme", 1.0)
    assert ids(other.sent) == ["id0", "id1", "id2", "id3"]
    assert counters.receipts_sent == 4 and deliveries.waiting == 0


def test_errors_and_timeouts_resend_then_give_up() -> None:
    deliveries, counters = queue(smpp_receipt_timeout_s=5.0, smpp_receipt_attempts=3)
    outlet = FakeOutlet("acme")
    deliveries.add_outlet(outlet, 0.0)
    deliveries.schedule_receipt(0.0, "acme", job(1), None)
    deliveries.release_due(0.0)
    outlet.ack_all(deliveries, Status.ESME_RX_T_APPN, now=0.0)  # attempt 1 failed
    deliveries.release_due(0.9)
    assert len(outlet.sent) == 1  # resent after 1 s, not before
    deliveries.release_due(1.0)
    assert len(outlet.sent) == 2 and counters.receipts_resent == 1
    deliveries.expire([outlet], 5.9)
    assert outlet.awaiting  # not timed out yet
    deliveries.expire([outlet], 6.0)  # attempt 2 timed out
    deliveries.release_due(8.0)
    deliveries.expire([outlet], 13.0)  # attempt 3 timed out: the last
    assert (counters.receipts_failed, counters.receipts_pending) == (1, 0)


def test_a_closed_receiver_gives_its_unacknowledged_back_in_order() -> None:
    deliveries, counters = queue()
    gone, next_one = FakeOutlet("acme"), FakeOutlet("acme")
    deliveries.add_outlet(gone, 0.0)
    for number in range(3):
        deliveries.schedule_receipt(0.0, "acme", job(number), None)
    deliveries.release_due(0.0)
    deliveries.remove_outlet(gone, 1.0)
    deliveries.add_outlet(next_one, 1.0)
    assert [p.tlvs[Tag.RECEIPTED_MESSAGE_ID] for p in next_one.sent] == ["id0", "id1", "id2"]
    assert counters.receipts_pending == 3


def test_waiting_receipts_are_bounded_and_the_excess_counted() -> None:
    deliveries, counters = queue(receipts_pending_limit=2)
    for number in range(5):
        deliveries.schedule_receipt(0.0, "nobody", job(number), None)
    deliveries.release_due(0.0)
    assert (deliveries.waiting, counters.receipts_dropped, counters.receipts_pending) == (2, 3, 2)


# Profiles and config.


def test_every_profile_makes_a_valid_config() -> None:
    for name in PROFILES:
        config = SimulatorConfig(**profile_defaults(name))
        assert config.smpp_window >= 1
    assert profile_defaults("realistic")["smpp_latency_ms"] == 20.0


def test_unknown_profile_and_bad_accounts() -> None:
    with pytest.raises(SimulatorConfigError, match="unknown profile"):
        profile_defaults("nope")
    with pytest.raises(SimulatorConfigError, match="--account"):
        SimulatorConfig(accounts={"": "x"})
