"""Calls in progress: each holds its line from its placement until its final status comes
back (Inbound.calls), then its message is recorded, or called again later.

A call's end decides by the campaign's call policy (policy/calls.py): delivered, failed or
expired are recorded with the reason (one Redis call for what one callback batch brought);
busy and no-answer wait in the window waiter until their retry is due (by wall clock, so a
retry never goes out of the recipient's window either), then go back to their line feed
with one more call counted. A call whose final status never comes within
`daemon.call_timeout_s` frees its line and ends expired: its fate is unknown, and calling
again blindly could ring twice.

In memory, as the other messages a daemon holds: a daemon that dies with calls in progress
leaves their messages pending in Redis, and whoever takes them over calls again (the
request's Idempotency-Key, reference and attempt, stops a provider that honours it from
placing a second call; see gateways/voice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message, outcome
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.daemon.resilience import with_redis_retry
from dispatch.lines.scheduler import Line
from dispatch.policy.calls import CallPolicy
from dispatch.store.queue import Queue
from dispatch.vocabulary import CallEnded, CallOutcome, Outcome

log = logging.getLogger(__name__)

EXPIRY_CHECK_S: Final = 5.0
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
                 timeout_s: float) -> None:
        self._queue = queue
        self._book = book
        self._tracker = tracker
        self._waiter = waiter
        self._retrier = retrier
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._calls: dict[str, CallInProgress] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def placed(self, call_id: str, message: Message, line: Line | None = None,
               release: Release | None = None) -> None:
        message.calls += 1
        self._calls[call_id] = CallInProgress(message, line, release, trio.current_time())

    async def settle(self, ended: Sequence[CallEnded]) -> None:
        """The ends of calls: lines freed, messages recorded or called again."""
        finals: dict[str, list[Outcome]] = {}
        for end in ended:
            call = self._end(end.gateway_id)
            if call is None:
                self._metrics.calls.labels("unmatched").inc()
                continue
            self._metrics.calls.labels(str(end.outcome)).inc()
            self._metrics.call_duration.observe(end.duration_s)
            self._decide(call.message, end, finals)
        for campaign, outcomes in finals.items():
            await with_redis_retry("call_record", partial(self._queue.record, campaign,
                                                          outcomes), self._metrics)
            self._tracker.discard(outcome.entry_id for outcome in outcomes)
        self._metrics.in_process.set(len(self._tracker))

    async def expire_forever(self) -> None:
        """Calls whose final status never came end expired, their lines freed."""
        while True:
            await trio.sleep(min(EXPIRY_CHECK_S, self._timeout_s / 2))
            late = trio.current_time() - self._timeout_s
            overdue = [call_id for call_id, call in self._calls.items() if call.placed_at <= late]
            if overdue:
                log.warning("%d calls had no final status within %g s: their fate is unknown",
                            len(overdue), self._timeout_s)
                reason = f"no final status within {self._timeout_s:g} s"
                await self.settle([CallEnded(call_id, CallOutcome.UNKNOWN, 0.0, reason)
                                   for call_id in overdue])

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
