"""Leases of slices of a pool's lines between daemons, on the real Redis, with the time
given explicitly (the script reasons with it instead of the server's clock)."""

from __future__ import annotations

from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.line_leases import LineLeases
from dispatch.store.redis import Redis

TTL_S = 10.0


def leases(redis: Redis, settings: Settings) -> LineLeases:
    return LineLeases(redis, Keys(settings.redis.key_prefix))


async def test_one_daemon_takes_every_slice_and_renews_them(
        redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    first = await store.cycle("p", "a", 8, TTL_S, now_ms=0)
    assert (first.share, sorted(first.held)) == (8, list(range(8)))
    again = await store.cycle("p", "a", 8, TTL_S, now_ms=9_000)
    assert sorted(again.held) == list(range(8))
    # Renewed at 9 s: still a's at 15 s, when the first lease would have run out.
    other = await store.cycle("p", "b", 8, TTL_S, now_ms=15_000)
    assert other.held == []


async def test_a_second_daemon_gets_what_the_first_gives_back_disjoint(
        redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    await store.cycle("p", "a", 8, TTL_S, now_ms=0)
    b = await store.cycle("p", "b", 8, TTL_S, now_ms=1_000)
    assert (b.share, b.held) == (4, [])  # a holds them all until it gives some back
    a = await store.cycle("p", "a", 8, TTL_S, give_back=[4, 5, 6, 7], now_ms=2_000)
    assert (a.share, sorted(a.held)) == (4, [0, 1, 2, 3])
    b = await store.cycle("p", "b", 8, TTL_S, now_ms=3_000)
    assert sorted(b.held) == [4, 5, 6, 7]


async def test_a_dead_daemon_s_slices_are_taken_over_once_expired(
        redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    await store.cycle("p", "a", 4, TTL_S, now_ms=0)
    await store.cycle("p", "a", 4, TTL_S, give_back=[2, 3], now_ms=1)
    await store.cycle("p", "b", 4, TTL_S, now_ms=2)
    # a dies (no more cycles); before its leases expire b gets nothing more of them.
    early = await store.cycle("p", "b", 4, TTL_S, now_ms=9_000)
    assert sorted(early.held) == [2, 3]
    late = await store.cycle("p", "b", 4, TTL_S, now_ms=10_002)
    assert (late.share, sorted(late.held)) == (4, [0, 1, 2, 3])


async def test_pools_are_leased_apart(redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    await store.cycle("p", "a", 2, TTL_S, now_ms=0)
    assert sorted((await store.cycle("q", "b", 2, TTL_S, now_ms=0)).held) == [0, 1]


async def test_the_server_clock_when_no_time_is_given(redis: Redis, settings: Settings) -> None:
    cycle = await leases(redis, settings).cycle("p", "a", 3, TTL_S)
    assert sorted(cycle.held) == [0, 1, 2]


async def test_a_slice_comes_back_rested_only_when_nobody_held_it_for_a_refill(
        redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    fresh = await store.cycle("p", "a", 4, TTL_S, now_ms=0, rest_s=5.0)
    assert fresh.rested == {0, 1, 2, 3}  # never leased: full buckets
    await store.cycle("p", "a", 4, TTL_S, give_back=[2, 3], now_ms=1_000, rest_s=5.0)
    given = await store.cycle("p", "b", 4, TTL_S, now_ms=2_000, rest_s=5.0)
    assert (sorted(given.held), given.rested) == ([2, 3], frozenset())  # used 1 s ago
    late = await store.cycle("p", "c", 4, TTL_S, now_ms=17_000, rest_s=5.0)
    # a and b died; a's leases ran out at 11 s (rested by 16 s), b's at 12 s (17 s).
    assert (sorted(late.held), late.rested) == ([0, 1, 2, 3], frozenset({0, 1, 2, 3}))


async def test_a_daemon_leaving_cleanly_hands_its_slices_over_at_once(
        redis: Redis, settings: Settings) -> None:
    store = leases(redis, settings)
    await store.cycle("p", "a", 4, TTL_S, now_ms=0, rest_s=5.0)
    b = await store.cycle("p", "b", 4, TTL_S, now_ms=1_000, rest_s=5.0)
    assert (b.share, b.held) == (2, [])
    assert await store.leave("p", "a", now_ms=2_000) == 4
    assert await store.leave("p", "a", now_ms=2_000) == 0  # nothing left to give
    # Long before a's leases would expire (10 s): b alone, its share is every slice,
    # taken with empty buckets (a drove them until 2 s).
    b = await store.cycle("p", "b", 4, TTL_S, now_ms=3_000, rest_s=5.0)
    assert (b.share, sorted(b.held), b.rested) == (4, [0, 1, 2, 3], frozenset())
