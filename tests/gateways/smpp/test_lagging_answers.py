"""A submit_sm never answered holds up only its own message (gateways/smpp/answers.py)."""

from __future__ import annotations

import trio
import trio.testing

from dispatch.gateways.smpp.submit import NO_RESPONSE
from dispatch.vocabulary import Accepted

from .helpers import outbound, running_gateway, running_smsc, settings
from .smsc import TestSmsc, reference_of


def losing(lost: set[str]) -> TestSmsc:
    """An SMSC that never answers the messages whose reference is in `lost`."""
    return TestSmsc(respond=lambda pdu: None if reference_of(pdu) in lost else 0)


async def test_the_others_are_answered_before_the_lost_one_times_out_alone(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with running_smsc(losing({"ref-2"})) as smsc, \
                running_gateway(settings(smsc.port, window=10, timeout_s=5)) as gateway:
            started = trio.current_time()
            answers = await gateway.submit_early(outbound(5))
            first = await answers.first()
            assert trio.current_time() - started < 1
            assert first == [Accepted("ref-0"), Accepted("ref-1"), None, Accepted("ref-3"),
                             Accepted("ref-4")]
            rest = await answers.rest()
            assert trio.current_time() - started == 5  # its own deadline, not later
            assert rest == [None, None, NO_RESPONSE, None, None]
            assert gateway.stats.timeouts == 1


async def test_the_lost_ones_window_slot_is_freed_at_its_deadline(
        autojump_clock: trio.testing.MockClock) -> None:
    """Window 2: the lost one holds a slot until its deadline, the other keeps the
    messages flowing one by one; then both slots take the rest."""
    with trio.fail_after(60):
        async with running_smsc(losing({"ref-0"})) as smsc, \
                running_gateway(settings(smsc.port, window=2, timeout_s=5)) as gateway:
            started = trio.current_time()
            lost = await gateway.submit_early(outbound(1))
            answered = await gateway.submit(outbound(4, start=1))
            assert answered == [Accepted(f"ref-{i}") for i in range(1, 5)]
            assert trio.current_time() - started < 1  # through the one free slot
            assert await lost.rest() == [NO_RESPONSE]
            assert trio.current_time() - started == 5
            conn = smsc.bound[0]
            assert conn.max_outstanding == 2  # the lost one, and one at a time beside it
            await gateway.submit(outbound(2, start=5))
            # Both slots were free again: the two went together (the SMSC still counts
            # the one it never answered).
            assert conn.max_outstanding == 3
            assert [reference_of(pdu) for pdu in conn.submits[-2:]] == ["ref-5", "ref-6"]


async def test_a_long_message_is_answered_once_all_its_parts_are(
        autojump_clock: trio.testing.MockClock) -> None:
    long_text = "x" * 300  # three parts
    with trio.fail_after(60):
        async with running_smsc(TestSmsc()) as smsc, \
                running_gateway(settings(smsc.port, window=10)) as gateway:
            answers = await gateway.submit_early(outbound(2, long_text))
            first = await answers.first()
            assert all(isinstance(result, Accepted) for result in first)
            assert await answers.rest() == [None, None]


async def test_once_nearly_all_are_answered_the_missing_one_is_not_waited_for(
        autojump_clock: trio.testing.MockClock) -> None:
    """Answers take a second: the batch goes on right after the others came, not after
    twice what the first one took."""
    smsc = TestSmsc(respond=lambda pdu: None if reference_of(pdu) == "ref-7" else 0,
                    delay_s=1.0)
    with trio.fail_after(60):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, window=40, timeout_s=5)) as gateway:
            started = trio.current_time()
            answers = await gateway.submit_early(outbound(40))
            first = await answers.first()
            assert trio.current_time() - started < 1.1
            assert [i for i, result in enumerate(first) if result is None] == [7]
