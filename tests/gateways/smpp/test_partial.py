"""A long message whose first part was accepted and a later one throttled."""

from __future__ import annotations

from dispatch.gateways.smpp.partial import PartialMessage, PartialMessages
from dispatch.smpp.pdu import SubmitSm
from dispatch.vocabulary import Accepted, Retry


def message(parts: int) -> PartialMessage:
    return PartialMessage([SubmitSm(short_message=bytes([i])) for i in range(parts)])


def test_a_retry_sends_only_the_missing_parts_then_forgets_the_message() -> None:
    partial = PartialMessages()
    first = message(3)
    throttled = Retry("throttled", 1.0, counts=False)
    results = partial.settle("ref", first, {0: Accepted("a"), 1: throttled, 2: Accepted("c")})
    assert results == [Accepted("a"), throttled, Accepted("c")]
    again = partial.take("ref")
    assert again is first
    assert again.missing() == [1]
    results = partial.settle("ref", again, {1: Accepted("b")})
    assert results == [Accepted("a"), Accepted("b"), Accepted("c")]
    assert partial.take("ref") is None


def test_nothing_is_kept_when_no_part_was_accepted_and_the_memory_is_bounded() -> None:
    partial = PartialMessages(max_held=2)
    partial.settle("none", message(2), {0: Retry("x"), 1: Retry("x")})
    assert len(partial) == 0
    for reference in ("a", "b", "c"):
        partial.settle(reference, message(2), {0: Accepted("1"), 1: Retry("x")})
    assert len(partial) == 2
    assert partial.take("a") is None  # the oldest went first
