"""MO reassembly: order, duplicates, expiry, the memory bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.smpp.reassembly import Incomplete, Reassembler

KEY = ("33612345678", "MAIRIE", 42)


def test_parts_in_order() -> None:
    r: Reassembler[bytes] = Reassembler()
    assert r.add(KEY, 3, 1, b"a", now=0) is None
    assert r.add(KEY, 3, 2, b"b", now=1) is None
    assert r.add(KEY, 3, 3, b"c", now=2) == [b"a", b"b", b"c"]
    assert r.parts_held == 0


def test_parts_out_of_order_come_back_in_order() -> None:
    r: Reassembler[str] = Reassembler()
    assert r.add(KEY, 3, 3, "c", now=0) is None
    assert r.add(KEY, 3, 1, "a", now=0) is None
    assert r.add(KEY, 3, 2, "b", now=0) == ["a", "b", "c"]


def test_a_single_part_message_completes_at_once() -> None:
    assert Reassembler[str]().add(KEY, 1, 1, "all", now=0) == ["all"]


def test_duplicates_are_kept_once_and_counted() -> None:
    r: Reassembler[str] = Reassembler()
    r.add(KEY, 2, 1, "first", now=0)
    assert r.add(KEY, 2, 1, "again", now=0) is None
    assert r.duplicates == 1 and r.parts_held == 1
    assert r.add(KEY, 2, 2, "second", now=0) == ["first", "second"]


def test_keys_keep_messages_apart() -> None:
    r: Reassembler[str] = Reassembler()
    other = ("33700000000", "MAIRIE", 42)  # same reference, another sender
    r.add(KEY, 2, 1, "k1", now=0)
    r.add(other, 2, 2, "o2", now=0)
    assert r.add(KEY, 2, 2, "k2", now=0) == ["k1", "k2"]
    assert r.add(other, 2, 1, "o1", now=0) == ["o1", "o2"]


def test_stale_groups_expire_and_are_handed_back() -> None:
    r: Reassembler[str] = Reassembler(timeout_s=60)
    r.add(KEY, 3, 1, "a", now=0)
    r.add(("x", "y", 1), 2, 1, "b", now=50)
    assert r.expire(now=59) == []
    assert r.expire(now=60) == [Incomplete(KEY, 3, {1: "a"}, "expired")]
    assert r.parts_held == 1
    assert r.expire(now=200) == [Incomplete(("x", "y", 1), 2, {1: "b"}, "expired")]
    assert r.parts_held == 0


def test_a_new_part_keeps_its_group_alive() -> None:
    r: Reassembler[str] = Reassembler(timeout_s=60)
    r.add(KEY, 3, 1, "a", now=0)
    r.add(KEY, 3, 2, "b", now=50)
    assert r.expire(now=100) == []
    assert r.add(KEY, 3, 3, "c", now=100) == ["a", "b", "c"]


def test_the_bound_evicts_the_least_recently_updated_group() -> None:
    r: Reassembler[str] = Reassembler(max_parts=3)
    r.add(("old",), 2, 1, "o", now=0)
    r.add(("mid",), 3, 1, "m1", now=1)
    r.add(("mid",), 3, 2, "m2", now=2)
    r.add(("new",), 2, 1, "n", now=3)  # four parts held: "old" goes
    assert r.parts_held == 3
    assert r.expire(now=3) == [Incomplete(("old",), 2, {1: "o"}, "evicted")]
    assert r.add(("mid",), 3, 3, "m3", now=4) == ["m1", "m2", "m3"]


def test_a_reused_reference_with_another_total_replaces_the_group() -> None:
    r: Reassembler[str] = Reassembler()
    r.add(KEY, 3, 1, "stale", now=0)
    assert r.add(KEY, 2, 1, "a", now=1) is None
    assert r.add(KEY, 2, 2, "b", now=1) == ["a", "b"]
    assert r.expire(now=1) == [Incomplete(KEY, 3, {1: "stale"}, "replaced")]
    assert r.parts_held == 0


@pytest.mark.parametrize(("total", "sequence"), [(3, 0), (3, 4), (0, 0)])
def test_impossible_part_numbers_are_refused(total: int, sequence: int) -> None:
    with pytest.raises(ValueError, match=r"within 1\.\.total"):
        Reassembler[str]().add(KEY, total, sequence, "x", now=0)


@settings(deadline=None)  # no wall-clock limits in tests
@given(st.permutations(range(1, 9)), st.sets(st.integers(1, 8)))
def test_any_order_with_duplicates_completes_exactly_once(
    order: list[int], repeated: set[int],
) -> None:
    r: Reassembler[int] = Reassembler()
    results = []
    for position, seq in enumerate(order):
        results.append(r.add(KEY, 8, seq, seq, now=0))
        if seq in repeated and position < 7:  # a copy of the last part would start anew
            results.append(r.add(KEY, 8, seq, -seq, now=0))
    assert [res for res in results if res is not None] == [list(range(1, 9))]
    assert r.parts_held == 0
    assert r.duplicates == len(repeated - {order[-1]})
