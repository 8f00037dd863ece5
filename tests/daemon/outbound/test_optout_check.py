"""SharedOptOutCheck: the asks of concurrent senders answered by one call, each its own."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.lowlevel
import trio.testing

from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.optout_check import SharedOptOutCheck
from dispatch.vocabulary import Outbound

STOPPED = {"+33600000002", "+33600000005"}


def batch(*numbers: str) -> tuple[list[Message], list[Outbound]]:
    return ([Message("c1", b"1-0", n, None) for n in numbers],
            [Outbound(f"ref-{n}", n, "36111", "text") for n in numbers])


async def test_concurrent_asks_share_one_call_and_get_their_own_answers() -> None:
    calls: list[int] = []

    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        calls.append(len(outbound))
        await trio.lowlevel.checkpoint()  # a round trip
        return [item.to in STOPPED for item in outbound]

    shared = SharedOptOutCheck(check)
    answers: dict[str, list[bool]] = {}

    async def ask(name: str, numbers: tuple[str, ...]) -> None:
        answers[name] = await shared(*batch(*numbers))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shared.run)
            async with trio.open_nursery() as senders:
                senders.start_soon(ask, "a", ("+33600000001", "+33600000002"))
                senders.start_soon(ask, "b", ("+33600000003",))
                senders.start_soon(ask, "c", ("+33600000004", "+33600000005"))
            nursery.cancel_scope.cancel()
    assert answers == {"a": [False, True], "b": [False], "c": [False, True]}
    assert calls == [5]  # the three asks were waiting together: one call


async def test_an_ask_made_a_few_scheduling_rounds_later_shares_the_call() -> None:
    """Senders whose gateway answers came at the same moment wake one after another: the
    worker lets a few rounds pass before its call goes, so their asks share it."""
    calls: list[int] = []

    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        calls.append(len(outbound))
        return [item.to in STOPPED for item in outbound]

    shared = SharedOptOutCheck(check)
    answers: dict[str, list[bool]] = {}

    async def ask_after(rounds: int, name: str, number: str) -> None:
        for _ in range(rounds):
            await trio.lowlevel.checkpoint()
        answers[name] = await shared(*batch(number))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shared.run)
            await trio.testing.wait_all_tasks_blocked()  # the worker waits for asks
            async with trio.open_nursery() as senders:
                senders.start_soon(ask_after, 0, "a", "+33600000001")
                senders.start_soon(ask_after, 2, "b", "+33600000002")
            nursery.cancel_scope.cancel()
    assert answers == {"a": [False], "b": [True]}
    assert calls == [2]


async def test_an_ask_alone_is_answered_without_waiting_for_company() -> None:
    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        return [item.to in STOPPED for item in outbound]

    shared = SharedOptOutCheck(check)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shared.run)
            assert await shared(*batch("+33600000005")) == [True]
            assert await shared(*batch("+33600000001")) == [False]
            nursery.cancel_scope.cancel()
