"""This daemon's share of one pool's lines: leased in Redis (store/line_leases.py) and
kept in step with its line scheduler, so that several daemons on one Redis split the
lines and none is ever driven by two daemons at once.

- A slice newly leased is taken up with empty buckets (LineScheduler.set_leased): its first
  message goes one interval after the lease, so whoever drove it before (a daemon that
  gave it back, or died before its lease expired) and we stay within the line's rate;
  unless no daemon held it for a full refill of its buckets (or ever): then at once.
- A slice over the fair share (another daemon joined) is let go here first, and given back
  in Redis only once every assignment out on its lines has been answered.
- On a clean stop, once every sender is done, all of them are given back at once
  (`leave`): the other daemons take them at their next cycle, not when they expire.
- Leases are renewed every third of `ttl_s` (every REBALANCE_S while shares move). When
  renewals fail, every line is let go TRUST of `ttl_s` after the last successful cycle
  began, before the lease can expire and another daemon take it. (A daemon frozen whole,
  e.g. SIGSTOP, cannot notice: on waking it may send on lines taken over meanwhile until
  its next cycle.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Final

import trio

from dispatch.daemon.resilience import REDIS_BACK, redis_failed, redis_recovered
from dispatch.lines.scheduler import LineScheduler
from dispatch.store.line_leases import LeaseCycle, LineLeases
from dispatch.store.redis import REDIS_ERRORS, TRANSIENT_ERRORS

log = logging.getLogger(__name__)

MAX_SLICES: Final = 64  # slices per pool: the unit of sharing between daemons
RENEW: Final = 1 / 3  # of the TTL: how often the leases are renewed
TRUST: Final = 0.8  # of the TTL: how long lines stay in use after a cycle began
REBALANCE_S: Final = 0.5  # cycle period while giving back or short of the fair share


class PoolLeases:
    def __init__(self, store: LineLeases, consumer: str, scheduler: LineScheduler[Any],
                 pool: str, ttl_s: float, on_change: Callable[[], None] = lambda: None
                 ) -> None:
        """`on_change`: called when lines were taken up or let go."""
        self._store = store
        self._consumer = consumer
        self._scheduler = scheduler
        self._pool = pool
        self._ttl_s = ttl_s
        self._on_change = on_change
        self._count = len(scheduler.lines(pool))
        self.slices = min(self._count, MAX_SLICES)
        self._rest_s = scheduler.rest_s(pool)
        self._held: set[int] = set()  # slices whose lines are in use here
        self._giving: set[int] = set()  # let go here, still leased until their lines idle
        self._short = False  # fewer slices than the fair share at the last cycle
        scheduler.set_leased(pool, range(self._count), False, trio.current_time())

    def lines_of(self, slice_: int) -> range:
        return range(self._count * slice_ // self.slices,
                     self._count * (slice_ + 1) // self.slices)

    async def run(self) -> None:
        """Lease cycles until cancelled."""
        trusted_until = -math.inf
        while True:
            started = trio.current_time()
            cycle = await self._cycle()
            if cycle is not None:
                trusted_until = started + self._ttl_s * TRUST
                self._apply(cycle, trio.current_time())
                self._on_change()
            next_at = started + min(self._ttl_s * RENEW,
                                    REBALANCE_S if self._rebalancing else math.inf)
            if trio.current_time() < trusted_until < next_at:
                await trio.sleep_until(trusted_until)
            if trio.current_time() >= trusted_until and self._held:
                log.warning("pool %s: leases not renewed in time: letting go of its lines",
                            self._pool)
                self._let_go(set(self._held) | self._giving)
                self._on_change()
            if cycle is None:  # Redis away: try again as soon as it answers
                await REDIS_BACK.sleep(next_at - trio.current_time())
            else:
                await trio.sleep_until(next_at)

    async def _cycle(self) -> LeaseCycle | None:
        with trio.move_on_after(self._ttl_s * RENEW):
            try:
                cycle = await self._store.cycle(self._pool, self._consumer, self.slices,
                                                self._ttl_s, sorted(self._idle_giving()),
                                                rest_s=self._rest_s)
            except TRANSIENT_ERRORS as exc:  # Redis lost: told once for the process
                redis_failed(exc, f"pool {self._pool} leases")
            except REDIS_ERRORS as exc:
                log.warning("pool %s: lease cycle failed: %s", self._pool, exc)
            else:
                redis_recovered()
                return cycle
        return None

    async def leave(self) -> None:
        """A clean stop, with nothing out on the lines (`run` is over): give every slice
        back now. If Redis does not answer, the leases simply expire."""
        self._let_go(self._held | self._giving)
        self._giving.clear()
        problem = "no answer in time"
        with trio.move_on_after(self._ttl_s * RENEW):
            try:
                given = await self._store.leave(self._pool, self._consumer)
            except REDIS_ERRORS as exc:
                problem = str(exc)
            else:
                log.info("pool %s: %d slices of lines given back", self._pool, given)
                return
        log.warning("pool %s: lines not given back (%s): their leases expire", self._pool,
                    problem)

    def _idle_giving(self) -> list[int]:
        lines = self._scheduler.lines(self._pool)
        return [s for s in self._giving if not any(lines[i].busy for i in self.lines_of(s))]

    @property
    def _rebalancing(self) -> bool:
        """Slices to give back, or to get: cycles come faster until the shares settle."""
        return bool(self._giving) or self._short

    def _apply(self, cycle: LeaseCycle, now: float) -> None:
        held = set(cycle.held)
        self._short = len(held) < cycle.share
        self._giving &= held  # the rest was given back (or lost)
        lost = self._held - held
        if lost:
            log.warning("pool %s: %d slices of lines expired under us", self._pool, len(lost))
            self._let_go(lost)
        for slice_ in held - self._held - self._giving:
            self._scheduler.set_leased(self._pool, self.lines_of(slice_), True, now,
                                       rested=slice_ in cycle.rested)
            self._held.add(slice_)
        excess = len(held) - cycle.share - len(self._giving)
        if excess > 0:  # another daemon joined: let some go here, give back once idle
            extra = set(sorted(self._held)[-excess:])
            self._let_go(extra)
            self._giving |= extra

    def _let_go(self, slices: set[int]) -> None:
        now = trio.current_time()
        for slice_ in slices:
            self._scheduler.set_leased(self._pool, self.lines_of(slice_), False, now)
        self._held -= slices
