"""The outstanding-request table: matching by sequence number, deadlines, capacity."""

from __future__ import annotations

import pytest

from dispatch.gateways.smpp.window import Window, WindowFull


def test_requests_are_matched_by_sequence_in_any_order() -> None:
    window: Window[str] = Window(3)
    for sequence, deadline in ((7, 1.0), (8, 2.0), (9, 3.0)):
        window.add(sequence, f"r{sequence}", deadline)
    assert window.free == 0
    assert [window.pop(9), window.pop(7), window.pop(8)] == ["r9", "r7", "r8"]
    assert window.pop(8) is None  # answered twice, or never ours
    assert (len(window), window.free) == (0, 3)


def test_a_full_window_refuses_and_a_duplicate_sequence_is_an_error() -> None:
    window: Window[int] = Window(1)
    window.add(1, 1, 1.0)
    with pytest.raises(WindowFull):
        window.add(2, 2, 1.0)
    window.pop(1)
    window.add(2, 2, 1.0)
    duplicate: Window[int] = Window(2)
    duplicate.add(5, 0, 1.0)
    with pytest.raises(ValueError, match="already outstanding"):
        duplicate.add(5, 0, 2.0)


def test_expiry_returns_only_what_is_due_even_after_removals_in_the_middle() -> None:
    window: Window[str] = Window(10)
    for sequence in range(1, 6):
        window.add(sequence, f"r{sequence}", float(sequence))
    window.pop(2)
    assert window.next_deadline() == 1.0
    assert window.expire(3.5) == ["r1", "r3"]
    assert window.next_deadline() == 4.0
    assert window.expire(3.9) == []
    assert window.clear() == ["r4", "r5"]
    assert window.next_deadline() is None


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Window(0)
