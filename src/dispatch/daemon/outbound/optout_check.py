"""The last look at the opt-out list, right before a batch goes to the gateway.

The one look the daemon takes (enqueue looked when the number was queued): it catches a
STOP that landed while the message was queued or waited inside a daemon (in a channel, a
retry, its window), on this daemon or another. Admission does not look (admit.lua: the
opt-out sets are in another Redis Cluster slot than the campaign's keys).
One Redis round trip per batch, whatever its lines, never one per message: the scope of
the line each message actually goes out on (a pool's campaign spreads its messages over
many lines) is decided in one script call.

The senders' checks are asked together: one round trip for the batches of every sender
that asks at the same moment. With single submissions (an HTTP gateway that takes one
message per request) each sender's batch is one message, and a round trip per batch would
be a round trip per message: on a loaded machine each one costs a syscall and a context
switch, as dear as the gateway request itself. A worker takes whatever asks are waiting
when it is free and answers each. Before its call goes out it lets a few scheduling
rounds pass (no timer: on an idle daemon an ask alone is checked at once): senders whose
gateway answers came in at the same moment wake one after another, and their asks share
the call. Single HTTP submissions, 8 senders, five interleaved runs each: 1.65 asks per
call without the rounds, 3.3 with four; the daemon 727-832 -> 698-814 µs of CPU per
message.

The round trip leaves a gap: a STOP this daemon records while a check is on its way to
Redis (or after the check, while the batch waits for the gateway) would not stop the
batch. So the reply handler also notes each opt-out in process (`RecentOptOuts`) before
it writes it, and every answer is completed from that set when it comes back: from the
moment a STOP is read on this daemon, no check lets its number through, without a round
trip. Other daemons learn of it from Redis, at their next check.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import trio

from dispatch.daemon.batching import gather_ready
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.resilience import with_redis_retry
from dispatch.store.optout import ALL, OptOutStore, line_scope
from dispatch.vocabulary import Outbound

# Which of a batch opted out since it was admitted (for the line each goes out on).
OptOutCheck = Callable[[Sequence[Message], Sequence[Outbound]], Awaitable[list[bool]]]

MAX_ASKS: Final = 64  # asks answered by one round trip, at most
GATHER_ROUNDS: Final = 4  # scheduling rounds an ask waits for company (see above)
# How long an opt-out stays in process: far longer than any check's round trip (retries
# during a Redis outage included), after which Redis answers for it.
RECENT_KEEP_S: Final = 600.0
RECENT_MAX: Final = 200_000  # entries at most (a flood of STOPs must not grow memory)


class RecentOptOuts:
    """Opt-outs read by this daemon in the last `keep_s` seconds: (number, scope)."""

    def __init__(self, keep_s: float = RECENT_KEEP_S, max_entries: int = RECENT_MAX
                 ) -> None:
        self._keep_s = keep_s
        self._max = max_entries
        self._until: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()

    def __len__(self) -> int:
        return len(self._until)

    def add(self, entries: Iterable[tuple[str, str]]) -> None:
        """(E.164 number, scope: ALL or line_scope(line)) pairs that just opted out."""
        now = trio.current_time()
        self._forget(now)
        for key in entries:
            self._until[key] = now + self._keep_s
            self._order.append((now + self._keep_s, key))

    def discard(self, entries: Iterable[tuple[str, str]]) -> None:
        """Opt-ins (START): the scope no longer stops the number."""
        for key in entries:
            self._until.pop(key, None)

    def holds(self, number: str, line: str) -> bool:
        """Whether a message to `number` from `line` ("": none of its own) must not go."""
        if not self._until:
            return False
        now = trio.current_time()
        return any(self._until.get((number, scope), 0.0) > now
                   for scope in ((ALL, line_scope(line)) if line else (ALL,)))

    def _forget(self, now: float) -> None:
        order, until = self._order, self._until
        while order and (order[0][0] <= now or len(order) >= self._max):
            expiry, key = order.popleft()
            if until.get(key) == expiry:
                del until[key]


@dataclass
class _Ask:
    messages: Sequence[Message]
    outbound: Sequence[Outbound]
    answer: list[bool] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)


class SharedOptOutCheck:
    def __init__(self, check: OptOutCheck, recent: RecentOptOuts | None = None) -> None:
        """`recent`: the opt-outs this daemon read lately, which complete every answer."""
        self._check = check
        self.recent = recent if recent is not None else RecentOptOuts()
        self._send, self._receive = trio.open_memory_channel[_Ask](MAX_ASKS)

    async def __call__(self, messages: Sequence[Message], outbound: Sequence[Outbound]
                       ) -> list[bool]:
        """As the wrapped check, completed from `recent` once Redis answered (a STOP read
        during the round trip holds); needs `run` to be running."""
        ask = _Ask(messages, outbound)
        await self._send.send(ask)
        await ask.done.wait()
        holds = self.recent.holds
        return [found or holds(item.to, item.sender)
                for found, item in zip(ask.answer, outbound, strict=True)]

    async def run(self) -> None:
        """Answers asks until cancelled."""
        async for first in self._receive:
            asks = [first]
            await gather_ready(self._receive, asks, MAX_ASKS, GATHER_ROUNDS)
            answers = await self._check([m for ask in asks for m in ask.messages],
                                        [o for ask in asks for o in ask.outbound])
            start = 0
            for ask in asks:
                ask.answer = answers[start:start + len(ask.outbound)]
                start += len(ask.outbound)
                ask.done.set()


def optout_check(optouts: OptOutStore, metrics: DaemonMetrics) -> OptOutCheck:
    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        numbers = [item.to for item in outbound]
        lines = [item.sender for item in outbound]
        return await with_redis_retry("optout_check", partial(
            optouts.opted_out_by_line, numbers, lines), metrics)
    return check
