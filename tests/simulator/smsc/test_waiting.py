"""The line deliver_sm wait in for a receiver's window: each receiver's own, the shared
one, and arrival order across both."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.simulator.smsc.waiting import WaitingLine


@dataclass(eq=False)
class Item:
    name: str
    order: int = 0


def names(items: list[Item]) -> list[str]:
    return [item.name for item in items]


def line_of(*entries: tuple[str, str | None]) -> WaitingLine[str, Item]:
    line: WaitingLine[str, Item] = WaitingLine()
    for name, receiver in entries:
        line.add(Item(name), receiver)
    return line


def test_a_receiver_takes_its_own_and_the_shared_ones_in_arrival_order() -> None:
    line = line_of(("a", "X"), ("b", None), ("c", "X"), ("d", "Y"), ("e", None))
    assert len(line) == 5
    assert names(line.take("X", 3)) == ["a", "b", "c"]
    assert names(line.take("Y", 10)) == ["d", "e"]
    assert len(line) == 0 and line.take("X", 10) == []


def test_a_receiver_takes_no_more_than_its_room() -> None:
    line = line_of(("a", "X"), ("b", "X"), ("c", None))
    assert names(line.take("X", 1)) == ["a"]
    assert line.take("X", 0) == []
    assert names(line.take("Y", 5)) == ["c"]  # only the shared ones for another receiver
    assert names(line.take("X", 5)) == ["b"]


def test_what_waited_for_a_released_receiver_goes_to_any_in_order() -> None:
    line = line_of(("a", "X"), ("b", None), ("c", "X"), ("d", None))
    line.release("X")
    assert names(line.take("Y", 10)) == ["a", "b", "c", "d"]


def test_one_put_back_goes_before_everything_waiting() -> None:
    line = line_of(("a", "X"), ("b", None))
    line.add(Item("back-2"), None, first=True)
    line.add(Item("back-1"), None, first=True)
    assert names(line.take("X", 10)) == ["back-1", "back-2", "a", "b"]
