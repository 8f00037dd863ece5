from __future__ import annotations

from dispatch.simulator.ledger import Ledger


def test_first_submission_is_accepted_with_a_fresh_id() -> None:
    ledger = Ledger(id_prefix="gw")
    gateway_id, accepted = ledger.submit("ref-1", "ref-1")
    assert accepted
    assert gateway_id.startswith("gw")
    assert (ledger.accepted, ledger.duplicates, ledger.replays) == (1, 0, 0)


def test_same_key_replays_the_first_id_without_accepting_again() -> None:
    ledger = Ledger()
    first, _ = ledger.submit("ref-1", "ref-1")
    again, accepted = ledger.submit("ref-1", "ref-1")
    assert (again, accepted) == (first, False)
    assert (ledger.accepted, ledger.duplicates, ledger.replays) == (1, 0, 1)


def test_a_key_replays_even_when_the_reference_differs() -> None:
    ledger = Ledger()
    first, _ = ledger.submit("ref-1", "key-1")
    assert ledger.submit("ref-2", "key-1") == (first, False)
    assert not ledger.is_accepted("ref-2")


def test_same_reference_under_another_key_is_a_duplicate() -> None:
    ledger = Ledger()
    first, _ = ledger.submit("ref-1", "ref-1")
    second, accepted = ledger.submit("ref-1", "other-key")
    assert accepted
    assert second != first
    assert (ledger.accepted, ledger.duplicates, ledger.replays) == (1, 1, 0)


def test_same_reference_without_a_key_is_a_duplicate_each_time() -> None:
    ledger = Ledger()
    ids = {ledger.submit("ref-1", None)[0] for _ in range(3)}
    assert len(ids) == 3
    assert (ledger.accepted, ledger.duplicates, ledger.replays) == (1, 2, 0)


def test_reference_first_sent_without_key_then_with_its_own_key_is_a_duplicate() -> None:
    ledger = Ledger()
    ledger.submit("ref-1", None)
    ledger.submit("ref-1", "ref-1")
    ledger.submit("ref-1", "ref-1")  # now a replay
    assert (ledger.accepted, ledger.duplicates, ledger.replays) == (1, 1, 1)


def test_a_key_equal_to_another_reference_does_not_mark_that_reference_accepted() -> None:
    ledger = Ledger()
    ledger.submit("ref-1", "ref-2")
    assert ledger.is_accepted("ref-1")
    assert not ledger.is_accepted("ref-2")


def test_ids_are_unique_across_many_messages_and_ledgers() -> None:
    first, second = Ledger(), Ledger()
    ids = {first.submit(f"r{i}", f"r{i}")[0] for i in range(1000)}
    ids |= {second.submit(f"r{i}", f"r{i}")[0] for i in range(1000)}
    assert len(ids) == 2000
    assert first.accepted == second.accepted == 1000

