"""Calls in progress: each holds its line from its placement until its final status comes
back (Inbound.calls), then its message is recorded, or called again later.

A call's end decides by the campaign's call policy (policy/calls.py): delivered, failed or
expired are recorded with the reason (one Redis call for what one callback batch brought);
busy and no-answer wait in the window waiter until their retry is due (by wall clock, so a
retry never goes out of the recipient's window either), then go back to their line feed
with one more call counted. A call whose final status never comes within
`daemon.call_timeout_s` frees its line and ends expired: its fate is unknown, and calling
again blindly could ring twice. A call can end before its placement's answer is read (a
number the network refuses at once, while the other calls of the batch are still being
placed): such an end waits here, EARLY_KEEP_S at most, for its call to be known.

In memory, as the other messages a daemon holds: a daemon that dies with calls in progress
leaves their messages pending in Redis, and whoever takes them over calls again (the
request's Idempotency-Key, reference and attempt, stops a provider that honours it from
placing a second call; see gateways/voice).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

import trio

from dispatch.daemon.batching import drain_ready
from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message, outcome
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.daemon.resilience import with_redis_retry
from dispatch.lines.scheduler import Line
from dispatch.policy.calls import CallPolicy
from dispatch.store.call_cap import CallCap
from dispatch.store.call_counts import CallCounts
from dispatch.store.queue import Queue
from dispatch.vocabulary import CallEnded, CallOutcome, Outcome

log = logging.getLogger(__name__)

MATCHED_BATCH: Final = 500
EXPIRY_CHECK_S: Final = 5.0
EARLY_KEEP_S: Final = 60.0  # an end whose call is not known yet waits this long for it
Release = Callable[[Line, float], None]


@dataclass(slots=True)
class CallInProgress:
    message: Message
    line: Line | None  # None: a campaign without lines (nothing to free)
    release: Release | None
    placed_at: float  # trio time


class CallBook:
    def __init__(self, queue: Queue, book: CampaignBook, tracker: Tracker,
                 waiter: WindowWaiter[Message], retrier: Retrier, metrics: DaemonMetrics,
                 timeout_s: float, counts: CallCounts | None = None) -> None:
        """`counts`: where each campaign's call outcomes are counted (None: nowhere)."""
        self._queue = queue
        self._counts = counts
        self._book = book
        self._tracker = tracker
        self._waiter = waiter
        self._retrier = retrier
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._calls: dict[str, CallInProgress] = {}
        # Ends that came before their call was known, with when they came.
        self._early: dict[str, tuple[CallEnded, float]] = {}
        self._matched_send, self._matched = trio.open_memory_channel[CallEnded](math.inf)

    def __len__(self) -> int:
        return len(self._calls)

    def placed(self, call_id: str, message: Message, line: Line | None = None,
               release: Release | None = None) -> None:
        message.calls += 1
        self._calls[call_id] = CallInProgress(message, line, release, trio.current_time())
        early = self._early.pop(call_id, None)
        if early is not None:  # it ended already: settled by `run`
            self._matched_send.send_nowait(early[0])

    async def settle(self, ended: Sequence[CallEnded]) -> None:
        """The ends of calls: lines freed, messages recorded or called again."""
        finals: dict[str, list[Outcome]] = {}
        tally: dict[str, Counter[str]] = {}
        for end in ended:
            call = self._end(end.gateway_id)
            if call is None:
                self._early[end.gateway_id] = (end, trio.current_time())
                continue
            self._metrics.calls.labels(str(end.outcome)).inc()
            self._metrics.call_duration.observe(end.duration_s)
            tally.setdefault(call.message.campaign, Counter())[str(end.outcome)] += 1
            self._decide(call.message, end, finals)
        for campaign, outcomes in finals.items():
            await with_redis_retry("call_record", partial(self._queue.record, campaign,
                                                          outcomes), self._metrics)
            self._tracker.discard(outcome.entry_id for outcome in outcomes)
        self._metrics.in_process.set(len(self._tracker))
        await self.count(tally)

    def campaign_of(self, call_id: str) -> str | None:
        """The campaign of a call in progress (None: not one of this daemon's)."""
        call = self._calls.get(call_id)
        return None if call is None else call.message.campaign

    async def count(self, tally: Mapping[str, Mapping[str, int]]) -> None:
        """Add to the campaigns' call counts (outcomes, 9s)."""
        if self._counts is not None and tally:
            await with_redis_retry("call_counts", partial(self._counts.add, tally),
                                   self._metrics)

    async def run(self) -> None:
        """Until cancelled: settle the ends that came before their calls, expire the calls
        whose end never came."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._settle_matched)
            nursery.start_soon(self._expire_forever)

    async def _settle_matched(self) -> None:
        async for first in self._matched:
            batch = [first]
            drain_ready(self._matched, batch, MATCHED_BATCH)
            await self.settle(batch)

    async def _expire_forever(self) -> None:
        """Calls whose final status never came end expired, their lines freed; ends that
        never met their call are counted unmatched."""
        while True:
            await trio.sleep(min(EXPIRY_CHECK_S, self._timeout_s / 2))
            self._forget_early(trio.current_time() - EARLY_KEEP_S)
            late = trio.current_time() - self._timeout_s
            overdue = [call_id for call_id, call in self._calls.items() if call.placed_at <= late]
            if overdue:
                log.warning("%d calls had no final status within %g s: their fate is unknown",
                            len(overdue), self._timeout_s)
                reason = f"no final status within {self._timeout_s:g} s"
                await self.settle([CallEnded(call_id, CallOutcome.UNKNOWN, 0.0, reason)
                                   for call_id in overdue])

    def _forget_early(self, before: float) -> None:
        stale = [call_id for call_id, (_, came) in self._early.items() if came <= before]
        for call_id in stale:
            del self._early[call_id]
        if stale:
            self._metrics.calls.labels("unmatched").inc(len(stale))
            log.warning("%d call ends matched no call placed here (another daemon's, or "
                        "placed before a restart)", len(stale))

    def _end(self, call_id: str) -> CallInProgress | None:
        call = self._calls.pop(call_id, None)
        if call is not None and call.line is not None and call.release is not None:
            call.release(call.line, trio.current_time())
        return call

    def _decide(self, message: Message, end: CallEnded, finals: dict[str, list[Outcome]]
                ) -> None:
        campaign = self._book.campaigns.get(message.campaign)
        policy = campaign.calls if campaign is not None and campaign.calls else CallPolicy()
        decision = policy.decide(end.outcome, message.calls, end.reason)
        if decision.code is not None:
            finals.setdefault(message.campaign, []).append(
                outcome(message, decision.code, decision.reason)[1])
            return
        self._metrics.calls.labels("retried").inc()
        due = time.time() + decision.retry_after_s
        if not self._waiter.park(message, due) and campaign is not None:
            self._retrier.schedule(campaign.gateway, message, decision.retry_after_s)


class CapGuard:
    """The cap on calls per number (store/call_cap.py), Redis failures waited out."""

    def __init__(self, cap: CallCap, metrics: DaemonMetrics) -> None:
        self._cap = cap
        self._metrics = metrics

    async def reserve(self, numbers: Sequence[str]) -> list[bool]:
        return await with_redis_retry("call_cap", partial(self._cap.reserve, numbers),
                                      self._metrics)

    async def release(self, numbers: Sequence[str]) -> None:
        await with_redis_retry("call_cap", partial(self._cap.release, numbers), self._metrics)
