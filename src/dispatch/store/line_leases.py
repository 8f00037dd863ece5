"""Leases of pools' lines in Redis, so that several daemons share them and no line is
driven by two at once: a pool is cut into slices of lines; each daemon serving the pool
holds a fair share of the slices for a short time (`ttl_s`), renewing them while alive.
Slices of a dead daemon expire and are taken over by the others. One script call per
pool per cycle (store/lua/line_lease.lua), never one per message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dispatch.keys import Keys
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script


@dataclass(frozen=True)
class LeaseCycle:
    share: int  # slices this daemon should hold: its fair share
    held: list[int]  # slices it holds now (renewed or newly taken)
    rested: frozenset[int] = frozenset()  # of those newly taken, the ones idle long enough


class LineLeases:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._keys = keys
        self._cycle = redis.register_script(load_script("line_lease"))
        self._leave = redis.register_script(load_script("line_leave"))

    async def cycle(self, pool: str, consumer: str, slices: int, ttl_s: float,
                    give_back: Iterable[int] = (), now_ms: int | None = None, *,
                    rest_s: float = 0.0) -> LeaseCycle:
        """Heartbeat, renew, give back `give_back`, take up to the fair share; a slice no
        daemon held for `rest_s` (its lines' buckets have refilled) comes back `rested`.
        `now_ms` (tests): the time to reason with instead of the Redis server's clock."""
        args: list[str | int] = [consumer, "" if now_ms is None else now_ms,
                                 round(ttl_s * 1000), slices, round(rest_s * 1000),
                                 *give_back]
        reply: list[int] = await self._cycle(
            keys=[self._keys.line_leases(pool), self._keys.line_daemons(pool)], args=args)
        pairs = list(zip(reply[1::2], reply[2::2], strict=True))
        return LeaseCycle(int(reply[0]), [int(s) for s, _ in pairs],
                          frozenset(int(s) for s, rested in pairs if rested))

    async def leave(self, pool: str, consumer: str, now_ms: int | None = None) -> int:
        """Give back every slice `consumer` holds and drop its heartbeat (a clean stop,
        with nothing out on its lines): the slices given back."""
        given: int = await self._leave(
            keys=[self._keys.line_leases(pool), self._keys.line_daemons(pool)],
            args=[consumer, "" if now_ms is None else now_ms])
        return int(given)
