"""Which message goes out on which line, and when — pure: time is passed in explicitly.

One `LineScheduler` serves one gateway: the lines of its pools, the campaigns sending on
them, and the gateway's own caps. `take(now, n)` hands out up to n (message, line)
assignments that may go out *now*; `release(line)` gives back a line's concurrency slot
(and the gateway window slot) once the gateway answered. Nothing here waits or does I/O;
`dispatch.daemon.outbound.line_service` adds the Trio waiting.

Violations, precisely. The gateway simulator keeps, per source address, a token bucket of
rate r and capacity b (its `line_rate`, and `line_burst` or max(1, r) when that is 0),
starting full and refilled continuously; a submission that *arrives* when the bucket
holds less than one token is a line violation (answered ESME_RTHROTTLED and counted in
`line_violations`). A line's `rate` and `burst` here must be the gateway's r and b.

The margin chosen. Arrival times differ from the times we hand lines out by a delay that
varies (encoding, the event loop, the network): if that delay lies within [d, d + J] for
a fixed d, a sequence that conforms to the bucket with J seconds *less* tolerance here
conforms to the gateway's bucket there. So each line is scheduled at its full rate r with
GCRA tolerance ``(b - 1)/r - jitter_s`` (`bucket` module): with b >= 2 the margin only
trims the burst (about J*r tokens) and the long-run rate is exactly r; with b = 1 (the
simulator's default below 1 msg/s) consecutive messages on a line are ``1/r + jitter_s``
apart, 99 % of a 0.2 msg/s line at the default 0.05 s. Scheduling at a lower rate instead
would lose a fixed fraction on every line, fast or slow, and still not absorb jitter at
b = 1. The gateway caps (rate, burst) get the same margin; the window cap counts
assignments not yet released. J must cover the time an assignment waits in process before
its bytes are written: take assignments only when they can be sent at once (the window cap
exists for that) and size `jitter_s` to the measured spread. A caller that releases each
assignment with the time its answer came (`sent_until`, as the daemon's senders do) makes
a line of concurrency 1 keep its rate whatever that delay (see `release_line`).

Scheduling. Each pool keeps a heap of its lines ordered by next-free time (a line at its
concurrency leaves the heap until released; a line used out of order leaves a stale entry,
skipped when it surfaces) and a heap of its active campaigns ordered by (-priority, pass):
stride scheduling, each assignment advancing the campaign's pass by 1/weight, so within a
priority level campaigns share lines in proportion to their weights, and a higher priority
takes every line it can use first. A campaign that (re)joins starts at the level's current
pass: no catch-up burst after a pause or an idle spell.

Affinity. The first line each (campaign, recipient) got is remembered in an LRU map of at
most ``affinity_cap`` entries (about 250 bytes each); a later message of that recipient in
that campaign takes the same line when it is free at that moment, and the earliest free
line otherwise, without waiting (the remembered line stays the recipient's).

Costs. A long SMS goes out as k submissions (one per part) and the gateway counts each:
with `cost_of`, a message of k parts takes k tokens of its line (and of the gateway caps),
and when its line's bucket does not hold them all, the parts are spaced: `on_spaced` gets
each part's offset from the hand-out time, as the bucket allows them (`take_spaced`). A
line is handed out as soon as it has one token, so a long message never waits for a line
to save up k tokens (which a burst-1 line never does); the next message on that line comes
after its last part's token. The gateway caps charge all k at hand-out time.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from heapq import heappop, heappush, heapreplace
from typing import Any, Generic, TypeVar

from dispatch.lines.bucket import TokenBucket, tolerance
from dispatch.lines.config import GatewayCaps, LineLimits, PoolConfig

M = TypeVar("M")
NOW = -math.inf  # an `on_ready` time meaning "possibly right away"
Assignment = tuple[M, "Line"]
ReadyHook = Callable[[float], None]
SpacedHook = Callable[[M, tuple[float, ...]], None]
NO_CAPS = GatewayCaps()


class UnknownName(KeyError):
    """A campaign or pool this scheduler does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


class Line(TokenBucket):
    """A sender identity: `address` is what goes out as the sender (SMPP source_addr)."""

    __slots__ = ("address", "busy", "concurrency", "heap_key", "index", "leased",
                 "part_tolerance", "pool")

    def __init__(self, address: str, limits: LineLimits, pool: LinePool, index: int,
                 jitter_s: float, answer_timed: bool = False) -> None:
        # Released with its answer's time, a line of concurrency 1 needs no margin between
        # messages (see LineScheduler.release_line); the parts of one message keep it.
        between = 0.0 if answer_timed and limits.concurrency == 1 else jitter_s
        super().__init__(limits.rate, limits.burst, margin_s=between)
        self.part_tolerance = tolerance(limits.rate, limits.burst, jitter_s)
        self.address = address
        self.pool = pool
        self.index = index
        self.concurrency = limits.concurrency
        self.busy = 0  # assignments handed out and not released
        self.heap_key: float | None = self.next_free  # None: at concurrency, out of the heap
        self.leased = True  # False: another daemon's share, never handed out here

    def __repr__(self) -> str:
        return f"Line({self.address!r}, pool={self.pool.name!r})"


class LinePool:
    __slots__ = ("free", "lines", "name", "rate", "ready", "vtime")

    def __init__(self, config: PoolConfig, jitter_s: float, answer_timed: bool) -> None:
        self.name = config.name
        self.lines = [Line(address, limits, self, i, jitter_s, answer_timed)
                      for i, (address, limits) in enumerate(config.lines())]
        self.free: list[tuple[float, int]] = [(line.next_free, line.index) for line in self.lines]
        self.rate = sum(line.rate for line in self.lines)  # of the lines leased: capacity
        self.ready: list[tuple[int, float, int, Campaign[Any]]] = []
        self.vtime: dict[int, float] = {}  # priority -> pass of the last campaign served

    def top(self) -> tuple[float, Line | None]:
        """The line with the earliest next-free time and that time (inf, None: every line
        is at its concurrency), dropping stale heap entries on the way."""
        free, lines = self.free, self.lines
        while free:
            key, index = free[0]
            line = lines[index]
            if key == line.heap_key:
                return key, line
            heappop(free)
        return math.inf, None

    def has_work(self) -> bool:
        ready = self.ready
        while ready and ready[0][2] != ready[0][3].token:
            heappop(ready)  # paused, cancelled or re-keyed since
        return bool(ready)


class Campaign(Generic[M]):
    __slots__ = ("name", "pass_", "paused", "pool", "priority", "queue", "stride", "token")

    def __init__(self, name: str, pool: LinePool, weight: float, priority: int) -> None:
        self.name = name
        self.pool = pool
        self.stride = 1.0 / weight
        self.priority = priority
        self.pass_ = 0.0
        self.queue: deque[M] = deque()
        self.paused = False
        self.token: int | None = None  # sequence number of its valid entry in pool.ready


class LineScheduler(Generic[M]):
    """Assignments of queued messages to the lines of one gateway's pools.

    `recipient_of(message)` gives the recipient (the affinity key with the campaign);
    `cost_of(message)` the submissions it takes (its SMS parts; None: 1 each), and
    `on_spaced(message, offsets)` is told the times of the parts that cannot go at once.
    `answer_timed`: the caller releases every assignment with `sent_until`, the time its
    answer came; lines of concurrency 1 then keep no jitter margin between messages.
    Times passed to `take` must never decrease.
    """

    def __init__(self, pools: Iterable[PoolConfig], recipient_of: Callable[[M], str], *,
                 caps: GatewayCaps = NO_CAPS, jitter_s: float = 0.05,
                 affinity_cap: int = 200_000, cost_of: Callable[[M], int] | None = None,
                 on_spaced: SpacedHook[M] | None = None, answer_timed: bool = False) -> None:
        self._pools = {config.name: LinePool(config, jitter_s, answer_timed)
                       for config in pools}
        self._rotation = list(self._pools.values())
        self._turn = 0
        self._recipient_of = recipient_of
        self._cost_of = cost_of
        self._on_spaced = on_spaced
        self._jitter_s = jitter_s
        self._gate = TokenBucket(caps.rate, caps.burst, margin_s=jitter_s) if caps.rate else None
        self._window = caps.window or math.inf
        self._campaigns: dict[str, Campaign[M]] = {}
        # (campaign, recipient) -> the line it got first; least recently used dropped first
        self._affinity: OrderedDict[tuple[str, str], Line] = OrderedDict()
        self._affinity_cap = affinity_cap
        self._seq = itertools.count()
        self.queued = 0  # messages waiting, all campaigns (paused ones included)
        self.in_flight = 0  # assignments handed out and not released
        self.on_ready: ReadyHook | None = None  # see `next_ready_time`

    # --- campaigns -------------------------------------------------------------------

    def set_campaign(self, name: str, pool: str, *, weight: float = 1.0, priority: int = 0
                     ) -> None:
        """Add a campaign, or change its weight and priority (not its pool once it has
        messages queued). Higher priority first; within one, lines shared by weight."""
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"campaign {name}: weight must be a positive number, got {weight}")
        target = self._pool(pool)
        campaign = self._campaigns.get(name)
        if campaign is None:
            self._campaigns[name] = Campaign(name, target, weight, priority)
            return
        if campaign.pool is not target and campaign.queue:
            raise ValueError(f"campaign {name}: cannot move to pool {pool} with messages queued")
        self._deactivate(campaign)
        campaign.pool, campaign.stride, campaign.priority = target, 1.0 / weight, priority
        self._activate(campaign)

    def push(self, campaign: str, messages: Iterable[M]) -> None:
        """Queue messages of a campaign, after those already queued."""
        state = self._campaign(campaign)
        before = len(state.queue)
        state.queue.extend(messages)
        self.queued += len(state.queue) - before
        self._activate(state)

    def pause(self, campaign: str) -> None:
        """From now on the campaign gets no line; its messages stay queued."""
        state = self._campaign(campaign)
        state.paused = True
        self._deactivate(state)

    def resume(self, campaign: str) -> None:
        state = self._campaign(campaign)
        state.paused = False
        self._activate(state)

    def cancel(self, campaign: str) -> list[M]:
        """Forget the campaign; its queued messages are handed back, in order. Assignments
        already handed out are unaffected (release their lines as usual)."""
        state = self._campaigns.pop(campaign, None)
        if state is None:
            raise UnknownName(f"campaign {campaign!r} is not scheduled")
        self._deactivate(state)
        dropped = list(state.queue)
        state.queue.clear()
        self.queued -= len(dropped)
        return dropped

    def queued_in(self, campaign: str) -> int:
        return len(self._campaign(campaign).queue)

    @property
    def campaigns(self) -> list[str]:
        return list(self._campaigns)

    def rest_s(self, pool: str) -> float:
        """How long a line of `pool` must go unused for its bucket to be full again, as the
        gateway counts it (burst / rate), plus the jitter."""
        return max((line.interval + line.tolerance + 2 * self._jitter_s
                    for line in self._pool(pool).lines), default=0.0)

    @property
    def capacity(self) -> float:
        """Messages per second all the lines leased here can carry."""
        return sum(pool.rate for pool in self._rotation)

    def lines(self, pool: str) -> Sequence[Line]:
        return self._pool(pool).lines

    # --- assignments -----------------------------------------------------------------

    def take(self, now: float, max_n: int) -> list[Assignment[M]]:
        """Up to `max_n` assignments that may be sent at `now` (none: see next_ready_time)."""
        budget = min(max_n, self._window - self.in_flight)
        if self._gate is not None and budget > 0:
            budget = self._gate.available(now, int(budget))
        out: list[Assignment[M]] = []
        tokens = self._fill_pools(now, int(budget), out) if budget > 0 else 0
        if out:
            if self._gate is not None:
                self._gate.take(now, tokens)
            self.in_flight += len(out)
            self.queued -= len(out)
        return out

    def release(self, line: Line, sent_until: float = -math.inf) -> None:
        """An assignment on `line` is over (answered, failed or given up): its concurrency
        slot and its gateway window slot are free again. Once per assignment.
        `sent_until`: see `release_line`."""
        self.release_line(line, sent_until)
        self.release_window()

    def release_window(self) -> None:
        """The gateway window slot of one assignment is free again, its line still busy
        (a long message whose spaced parts are still to go): once per assignment, before
        or after its `release_line`."""
        window_was_full = self.in_flight >= self._window
        self.in_flight -= 1
        if (window_was_full and self.on_ready is not None
                and any(pool.has_work() for pool in self._rotation)):
            self.on_ready(NOW)

    def release_line(self, line: Line, sent_until: float = -math.inf) -> None:
        """The concurrency slot of an assignment on `line` is free again (with
        `release_window`: the assignment is over). `sent_until`: its last submission had
        reached the gateway by then, late or not (the time its answer came): the line's
        next one is at least one interval after. With it, a line of concurrency 1 keeps
        its rate whatever the delays between here and the gateway's clock (an answer
        comes after the gateway counted the request; the next request arrives after it
        was handed out), for the answer's latency (a fraction of a percent of a slow
        line's interval)."""
        if line.busy <= 0:
            raise ValueError(f"line {line.address} released more often than assigned")
        line.busy -= 1
        if sent_until + line.interval > line.tat:
            self.delay({line: line.tat}, sent_until + line.interval - line.tat)
        ready_at = math.inf
        if line.heap_key is None and line.leased:  # back from its concurrency limit
            line.heap_key = ready_at = line.next_free
            heappush(line.pool.free, (ready_at, line.index))
        if self.on_ready is not None and ready_at < math.inf and line.pool.has_work():
            self.on_ready(ready_at)

    def set_leased(self, pool: str, indexes: Iterable[int], leased: bool, now: float, *,
                   rested: bool = False) -> None:
        """Which lines of `pool` this scheduler may hand out (a daemon's leased share). A
        line let go is never handed out again (assignments out on it are released as
        usual); a line taken up starts with an empty bucket, its first use one interval
        plus the jitter after `now`, so whoever drove it before (up to `now`) and we
        never send on it closer than the rate allows; unless `rested`: nobody drove it
        for at least `rest_s(pool)`, its bucket is full again."""
        target = self._pool(pool)
        for index in indexes:
            line = target.lines[index]
            if line.leased == leased:
                continue
            line.leased = leased
            target.rate += line.rate if leased else -line.rate
            if not leased:
                line.heap_key = None  # its entry in the free heap is now stale
                continue
            if not rested:
                line.tat = max(line.tat, now + line.interval + line.tolerance + self._jitter_s)
            if line.busy < line.concurrency:
                line.heap_key = key = line.next_free
                heappush(target.free, (key, index))
                if self.on_ready is not None and target.has_work():
                    self.on_ready(key)

    @staticmethod
    def marks(lines: Iterable[Line]) -> dict[Line, float]:
        """Where each line's schedule stands (call right after a take): what `delay`
        moves when that batch goes out late."""
        return {line: line.tat for line in lines}

    def delay(self, marks: Mapping[Line, float], delay_s: float) -> None:
        """The assignments taken when the lines' schedules stood at `marks` go out
        `delay_s` later than they were taken (work done in between, e.g. a last look at
        the opt-out list): charge their buckets from then on, so that this delay is not
        part of the jitter the margin absorbs. Each line's schedule becomes at least its
        mark moved by `delay_s`: the batch is shifted once, however many of its messages
        a line carries (a short code), and batches of several senders held up together
        (a Redis outage) shift it once, not once each (which stalled a 1,000 msg/s short
        code 37 s after a 5 s outage: eight senders, 5 s each)."""
        if delay_s <= 0:
            return
        for line, mark in marks.items():
            if mark + delay_s <= line.tat:
                continue
            line.tat = mark + delay_s
            if line.heap_key is not None:  # still in the free heap (concurrency > 1)
                line.heap_key = key = line.next_free
                heappush(line.pool.free, (key, line.index))  # the old entry is now stale

    def next_ready_time(self) -> float:
        """The earliest time `take` may hand something out if nothing else changes (inf:
        not until a push, resume or release). Changes that make it earlier call
        `on_ready(time)` (`NOW` for "right away"), so a waiter can sleep until then."""
        if self.in_flight >= self._window:
            return math.inf
        earliest = math.inf
        for pool in self._rotation:
            if pool.has_work():
                earliest = min(earliest, pool.top()[0])
        if self._gate is not None and earliest < math.inf:
            earliest = max(earliest, self._gate.next_free)
        return earliest

    # --- inside ----------------------------------------------------------------------

    def _fill_pools(self, now: float, budget: int, out: list[Assignment[M]]) -> int:
        """Share the budget (tokens) between pools, starting with a different one each
        time; the tokens spent."""
        pools = self._rotation
        if len(pools) == 1:
            return self._fill(pools[0], now, budget, out)
        self._turn = (self._turn + 1) % len(pools)
        order = pools[self._turn:] + pools[:self._turn]
        spent = 0
        while spent < budget:
            before = spent
            for i, pool in enumerate(order):
                left = budget - spent
                spent += self._fill(pool, now, max(1, left // (len(order) - i)) if left else 0,
                                    out)
            if spent == before:
                break
        return spent

    def _fill(self, pool: LinePool, now: float, limit: int, out: list[Assignment[M]]) -> int:
        """The hot loop: `has_work` and `top` inlined (this runs once per message). Hands
        out messages while `limit` tokens last (a first message of more parts than that
        overdraws it: a message is never split); returns the tokens spent."""
        ready, free, lines, cost_of = pool.ready, pool.free, pool.lines, self._cost_of
        spent = 0
        while spent < limit and ready and free:
            head = ready[0]
            campaign: Campaign[M] = head[3]
            if head[2] != campaign.token:
                heappop(ready)  # paused, cancelled or re-keyed since
                continue
            free_at, index = free[0]
            top = lines[index]
            if free_at != top.heap_key:
                heappop(free)  # stale: the line was used out of turn or parked
                continue
            if free_at > now:
                break
            message = campaign.queue[0]
            cost = cost_of(message) if cost_of is not None else 1
            if spent and spent + cost > limit:
                break
            campaign.queue.popleft()
            line = self._line_for(campaign, message, top, now)
            if cost > 1:
                self._use_spaced(pool, line, now, line is top, message, cost)
            else:
                self._use(pool, line, now, line is top)
            spent += cost
            out.append((message, line))
            self._advance(pool, campaign, head[1])
        return spent

    def _line_for(self, campaign: Campaign[M], message: M, top: Line, now: float) -> Line:
        """The recipient's own line if it is free now, else `top` (the earliest free)."""
        key = (campaign.name, self._recipient_of(message))
        affinity = self._affinity
        pinned = affinity.get(key)
        if pinned is None:
            affinity[key] = top
            if len(affinity) > self._affinity_cap:
                affinity.popitem(last=False)
            return top
        affinity.move_to_end(key)
        free_at = pinned.heap_key
        if pinned.pool is top.pool and free_at is not None and free_at <= now:
            return pinned
        return top

    def _use_spaced(self, pool: LinePool, line: Line, now: float, is_top: bool, message: M,
                    cost: int) -> None:
        """`_use` for a message of `cost` parts: its line charged for every part."""
        offsets = line.take_spaced(now, cost, line.part_tolerance)
        if offsets[-1] > 0 and self._on_spaced is not None:
            self._on_spaced(message, offsets)
        _place(pool, line, is_top)

    @staticmethod
    def _use(pool: LinePool, line: Line, now: float, is_top: bool) -> None:
        line.tat = (line.tat if line.tat > now else now) + line.interval  # max(), inlined
        _place(pool, line, is_top)

    def _advance(self, pool: LinePool, campaign: Campaign[M], served_pass: float) -> None:
        """Stride step of the campaign at the head of `pool.ready`."""
        pool.vtime[campaign.priority] = served_pass
        campaign.pass_ = served_pass + campaign.stride
        if campaign.queue:
            campaign.token = token = next(self._seq)
            heapreplace(pool.ready, (-campaign.priority, campaign.pass_, token, campaign))
        else:
            campaign.token = None
            heappop(pool.ready)

    def _activate(self, campaign: Campaign[M]) -> None:
        if campaign.token is not None or campaign.paused or not campaign.queue:
            return
        pool = campaign.pool
        had_work = pool.has_work()
        campaign.pass_ = max(campaign.pass_, pool.vtime.get(campaign.priority, 0.0))
        campaign.token = token = next(self._seq)
        heappush(pool.ready, (-campaign.priority, campaign.pass_, token, campaign))
        if not had_work and self.on_ready is not None:
            self.on_ready(NOW)

    @staticmethod
    def _deactivate(campaign: Campaign[M]) -> None:
        campaign.token = None  # its heap entry is now stale

    def _campaign(self, name: str) -> Campaign[M]:
        try:
            return self._campaigns[name]
        except KeyError:
            raise UnknownName(f"campaign {name!r} is not scheduled") from None

    def _pool(self, name: str) -> LinePool:
        try:
            return self._pools[name]
        except KeyError:
            known = ", ".join(self._pools) or "none"
            raise UnknownName(f"pool {name!r} is not served here (pools: {known})") from None


def _place(pool: LinePool, line: Line, is_top: bool) -> None:
    """A line just used (`is_top`: taken from the top of the free heap): one more busy, and
    back in the heap at its next free time, or out of it at its concurrency."""
    line.busy += 1
    if line.busy < line.concurrency:
        line.heap_key = key = line.tat - line.tolerance
        if is_top:
            heapreplace(pool.free, (key, line.index))
        else:
            heappush(pool.free, (key, line.index))
    else:
        line.heap_key = None
        if is_top:
            heappop(pool.free)
