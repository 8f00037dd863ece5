"""Sender workers: take admitted messages, submit them in gateway-sized batches, and
turn each answer into an outcome to record or a retry to schedule."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import trio

from dispatch.daemon.batching import drain_ready, hand_over
from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import GatewayMetrics
from dispatch.daemon.outbound.calls import CallBook, CapGuard, Release
from dispatch.daemon.outbound.inflight import InFlightNumbers
from dispatch.daemon.outbound.messages import (
    NOT_SENT_CANCELLED,
    Message,
    message_reference,
    outcome,
)
from dispatch.daemon.outbound.optout_check import OptOutCheck
from dispatch.daemon.outbound.outages import GatewayOutages
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.gateways.base import Gateway
from dispatch.lines.scheduler import Assignment, Line
from dispatch.model import CANCELLED, PAUSED
from dispatch.policy.backoff import RetryPolicy
from dispatch.policy.calls import CALL_CAP_DAYS, CALLS_PER_NUMBER
from dispatch.policy.sending import Action
from dispatch.policy.windows import WindowError
from dispatch.template import TemplateError
from dispatch.vocabulary import Accepted, Outbound, Outcome, Rejected, StateCode, SubmitResult

log = logging.getLogger(__name__)


class Answers(Protocol):
    """A batch's results as they come (gateways.smpp.answers.Answers)."""

    async def first(self) -> list[SubmitResult | None]: ...

    async def rest(self) -> list[SubmitResult | None]: ...


@runtime_checkable
class AnswersEarly(Protocol):
    """A gateway whose answers to a batch may come far apart (SMPP: a submit_sm never
    answered waits for its own deadline): the messages answered are recorded without
    waiting for the laggards."""

    async def submit_early(self, messages: Sequence[Outbound]) -> Answers: ...



class Lines(Protocol):
    """Where a sender takes (message, line) assignments and gives lines back (LineFeed)."""

    async def next_assignments(self, max_n: int) -> list[Assignment[Message]]: ...

    def release(self, line: Line, sent_until: float) -> None: ...

    def release_window(self) -> None: ...

    def release_line(self, line: Line, sent_until: float) -> None: ...

    def marks(self, lines: Iterable[Line]) -> dict[Line, float]: ...

    def delay(self, marks: Mapping[Line, float], delay_s: float) -> None: ...


# Why a message was never sent, as recorded.
NOT_SENT_OPTED_OUT = "opted out while waiting to be sent"
NOT_SENT_DEADLINE = "deadline passed before it could be sent"
NOT_CALLED_CAP = (f"not called: {CALLS_PER_NUMBER} calls to this number in the last "
                  f"{CALL_CAP_DAYS} days already")
# The line a placed call keeps, and how it is freed when the call ends.
Keep = Callable[[Message], "tuple[Line, Release] | None"]
# Called once the gateway answered: frees the lines of the batch but those of `lagging`
# (messages still unanswered), and returns what frees theirs once they are answered.
Answered = Callable[[Sequence[Message]], Callable[[], None]]
PAUSE_RECHECK_S = 1.0  # campaign status is refreshed about once a second
WAITER_FULL_RECHECK_S = 300.0


class Lagging:
    """Messages sent whose answer lags (a submit_sm waiting for its deadline): waiting,
    not busy, for the reader's bound on what is held (each holds a window slot: the
    gateway's windows bound them)."""

    def __init__(self) -> None:
        self.count = 0

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class Sending:
    """What every sender of a daemon shares."""

    book: CampaignBook
    retrier: Retrier  # messages back later: transient errors, paused campaigns
    waiter: WindowWaiter[Message]  # messages outside their sending window
    policy: RetryPolicy
    optouts: OptOutCheck | None = None  # the last opt-out look before sending
    submitting: InFlightNumbers = field(default_factory=InFlightNumbers)
    calls: CallBook | None = None  # calls in progress (gateways that place calls)
    call_cap: CapGuard | None = None  # calls per number across campaigns
    # Each gateway's outages, as the log tells them (first failure, summaries, recovery).
    outages: GatewayOutages = field(default_factory=GatewayOutages)
    lagging: Lagging = field(default_factory=Lagging)


class Sender:
    """One worker; a gateway has `concurrency` of them, each with its own channels."""

    def __init__(self, gateway: Gateway, sending: Sending, metrics: GatewayMetrics,
                 outcomes: trio.MemorySendChannel[tuple[str, Outcome]]) -> None:
        self._gateway = gateway
        self._book = sending.book
        self._retrier = sending.retrier
        self._policy = sending.policy
        self._waiter = sending.waiter
        self._optouts = sending.optouts
        self._submitting = sending.submitting
        # A gateway that places calls: an accepted call keeps its line until it ends.
        self._calls = sending.calls if gateway.places_calls else None
        self._cap = sending.call_cap if gateway.places_calls else None
        self._metrics = metrics
        self._outage = sending.outages.of(gateway.name)
        self._outcomes = outcomes
        self._lagging = sending.lagging
        self._rng = random.Random()
        self._early = (gateway.submit_early if isinstance(gateway, AnswersEarly)
                       and not gateway.places_calls else None)
        self._later: trio.Nursery | None = None  # where a batch's laggards are waited for

    async def run(self, receive: trio.MemoryReceiveChannel[Message]) -> None:
        """Ends when the channel is closed and drained; then closes its outcome channel."""
        async with receive, self._outcomes, trio.open_nursery() as self._later:
            async for first in receive:
                batch = [first]
                drain_ready(receive, batch, self._gateway.batch_size)
                await self._send(batch)

    async def run_lines(self, lines: Lines) -> None:
        """Messages of pools' campaigns, each on the line the scheduler gave it (its
        address is the message's sender); a line is released once the gateway answered
        (or the message turned out not to be sendable). The long messages of a batch
        whose parts go out spaced are sent together in a task of their own, which lasts
        until their last parts are answered. Ends when `lines` is closed and those are
        done."""
        async with self._outcomes, trio.open_nursery() as spacing:
            self._later = spacing
            while True:
                try:
                    batch = await lines.next_assignments(self._gateway.batch_size)
                except trio.EndOfChannel:
                    return
                # Where the lines stood when this batch was taken: what its delay moves.
                marks = lines.marks(line for _, line in batch)
                spaced = [assignment for assignment in batch if assignment[0].part_offsets]
                if spaced:
                    spacing.start_soon(self._send_on_lines, lines, spaced, marks, True)
                    batch = [assignment for assignment in batch
                             if not assignment[0].part_offsets]
                if batch:
                    await self._send_on_lines(lines, batch, marks)

    async def _send_on_lines(self, lines: Lines, batch: list[Assignment[Message]],
                             marks: Mapping[Line, float], spaced: bool = False) -> None:
        """One batch of assignments; the lines are charged from the moment the batch goes
        to the gateway (after the opt-out check), and released once it answered, counted
        as used until then (see LineScheduler.release_line: a batch that waited on its
        way to the gateway must not crowd the lines' next messages). When its parts are
        `spaced`, the window slots are released as it goes (they are not held for the
        seconds the parts take), the lines once the last parts were answered."""
        taken_at, used = trio.current_time(), [line for _, line in batch]
        windows = len(used) if spaced else 0
        held = list(used)

        def submitting() -> None:
            nonlocal windows
            lines.delay(marks, trio.current_time() - taken_at)
            for _ in range(windows):
                lines.release_window()
            windows = 0

        release = lines.release_line if spaced else lines.release
        line_of = {id(message): line for message, line in batch}

        def answered(lagging: Sequence[Message] = ()) -> Callable[[], None]:
            """Also when nothing was sent after all."""
            later = [line_of[id(message)] for message in lagging]
            for line in later:
                held.remove(line)
            free(held)
            for _ in range(windows):
                lines.release_window()
            return lambda: free(later)

        def free(taken: list[Line]) -> None:
            now = trio.current_time()
            while taken:
                release(taken.pop(), now)

        def keep(message: Message) -> tuple[Line, Release] | None:
            """A call was placed: its line stays taken until the call ends."""
            line = line_of.pop(id(message), None)
            if line is None:
                return None
            held.remove(line)
            return line, release

        try:
            await self._send([message for message, _ in batch],
                             [line.address for line in used], (submitting, answered), keep)
        finally:
            answered()

    async def _send(self, batch: list[Message], sources: list[str] | None = None,
                    around: tuple[Callable[[], None], Answered] | None = None,
                    keep: Keep | None = None) -> None:
        """`sources`: each message's sender (its line); None: the gateway's sender.
        `around`: called right before the batch goes to the gateway, and as soon as the
        gateway answered; `keep`: the line a placed call keeps (see _send_on_lines)."""
        sendable: list[Message] = []
        outbound: list[Outbound] = []
        done: list[tuple[str, Outcome]] = []
        for index, message in enumerate(batch):
            status = self._book.status_of(message.campaign)
            if status == CANCELLED:
                done.append(outcome(message, StateCode.CANCELLED, NOT_SENT_CANCELLED))
                continue
            if status == PAUSED:  # hold it in process; looked at again in a second
                self._retrier.schedule(self._gateway.name, message, PAUSE_RECHECK_S)
                continue
            if not self._may_send_now(message, done):
                continue
            try:
                outbound.append(self._outbound(message, sources[index] if sources
                                               else self._gateway.sender))
                sendable.append(message)
            except TemplateError as exc:  # values that do not fit the campaign's text
                self._settle(message, Rejected(f"cannot render the text: {exc}"), done)
        numbers = [item.to for item in outbound]
        self._submitting.enter(numbers)  # before the opt-out check: see inflight.py
        try:
            if outbound and self._optouts is not None:
                sendable, outbound = await self._drop_opted_out(sendable, outbound, done)
            if outbound and self._cap is not None:
                sendable, outbound = await self._drop_over_cap(sendable, outbound, done)
            if outbound:
                if around is not None:
                    around[0]()
                await self._submit(sendable, outbound, done, around[1] if around else None,
                                   keep)
        finally:
            self._submitting.leave(numbers)
        await hand_over(self._outcomes, done)

    async def _submit(self, messages: list[Message], outbound: list[Outbound],
                      done: list[tuple[str, Outcome]], answered: Answered | None = None,
                      keep: Keep | None = None) -> None:
        if self._early is not None and not any(item.part_offsets for item in outbound):
            await self._submit_early(self._early, messages, outbound, done, answered)
            return
        started = trio.current_time()
        results = await self._gateway.submit(outbound)
        self._metrics.latency.observe(trio.current_time() - started)
        self._answered(messages, results, done, keep)
        if answered is not None:  # after the calls placed took their lines (keep)
            answered(())
        if self._cap is not None:  # calls not placed give their reservation back
            await self._cap.release([item.to for item, result in zip(outbound, results,
                                                                     strict=True)
                                     if not isinstance(result, Accepted)])

    async def _submit_early(self, early: Callable[[Sequence[Outbound]], Awaitable[Answers]],
                            messages: list[Message], outbound: list[Outbound],
                            done: list[tuple[str, Outcome]], answered: Answered | None
                            ) -> None:
        """The messages answered soon go to `done`; those whose answer lags are waited
        for in a task of their own, so this sender takes its next batch meanwhile."""
        started = trio.current_time()
        answers = await early(outbound)
        results = await answers.first()
        self._metrics.latency.observe(trio.current_time() - started)
        late = [index for index, result in enumerate(results) if result is None]
        self._answered([message for message, result in zip(messages, results, strict=True)
                        if result is not None],
                       [result for result in results if result is not None], done)
        lagging = [messages[index] for index in late]
        free_later = answered(lagging) if answered is not None else None
        if lagging:
            numbers = [outbound[index].to for index in late]
            self._submitting.enter(numbers)  # still submitting once _send left them
            self._lagging.count += len(lagging)
            assert self._later is not None
            self._later.start_soon(self._laggards, answers, lagging, numbers, free_later)

    async def _laggards(self, answers: Answers, messages: list[Message], numbers: list[str],
                        free: Callable[[], None] | None) -> None:
        """A batch's messages answered late (or never: their deadline), recorded then."""
        done: list[tuple[str, Outcome]] = []
        try:
            results = [result for result in await answers.rest() if result is not None]
            self._answered(messages, results, done)
        finally:
            self._submitting.leave(numbers)
            self._lagging.count -= len(messages)
            if free is not None:
                free()
        await hand_over(self._outcomes, done)

    def _answered(self, messages: Sequence[Message], results: Sequence[SubmitResult],
                  done: list[tuple[str, Outcome]], keep: Keep | None = None) -> None:
        """The gateway's answers: outcomes to `done`, retries scheduled."""
        self._outage.answered(results)
        accepted_at = time.time()  # wall clock, like the stream entry ids
        waits: list[float] = []
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, Accepted):
                waits.append(accepted_at - enqueued_at(message))
            self._settle(message, result, done, keep)
        if waits:
            self._metrics.queue_wait(waits)
            self._metrics.submitted.inc(len(waits))
            self._retrier.accepted(self._gateway.name, len(waits))  # the throttled's pace

    async def _drop_opted_out(self, messages: list[Message], outbound: list[Outbound],
                              done: list[tuple[str, Outcome]]
                              ) -> tuple[list[Message], list[Outbound]]:
        """Look at the opt-out list again right before sending (one round trip per batch):
        a STOP that landed while the message waited in this daemon holds."""
        assert self._optouts is not None
        stopped = await self._optouts(messages, outbound)
        kept: tuple[list[Message], list[Outbound]] = ([], [])
        for message, item, opted_out in zip(messages, outbound, stopped, strict=True):
            if opted_out:
                done.append(outcome(message, StateCode.SUPPRESSED, NOT_SENT_OPTED_OUT))
            else:
                kept[0].append(message)
                kept[1].append(item)
        return kept

    async def _drop_over_cap(self, messages: list[Message], outbound: list[Outbound],
                             done: list[tuple[str, Outcome]]
                             ) -> tuple[list[Message], list[Outbound]]:
        """Reserve a call for each number under the cap (policy.calls); the others end
        failed, never called."""
        assert self._cap is not None
        allowed = await self._cap.reserve([item.to for item in outbound])
        kept: tuple[list[Message], list[Outbound]] = ([], [])
        for message, item, ok in zip(messages, outbound, allowed, strict=True):
            if ok:
                kept[0].append(message)
                kept[1].append(item)
            else:
                done.append(outcome(message, StateCode.FAILED, NOT_CALLED_CAP))
        return kept

    def _may_send_now(self, message: Message, done: list[tuple[str, Outcome]]) -> bool:
        """The campaign's window in the recipient's local time, and its deadline: a message
        outside its window waits for it; one past the deadline expires, never sent. A call
        keeps to the time slot its recipient consented to, within the campaign's window."""
        try:
            policy = self._book.campaigns[message.campaign].policy_for(message.slot)
        except WindowError as exc:  # enqueue checks it: a damaged entry
            done.append(outcome(message, StateCode.FAILED, f"consent slot unusable: {exc}"))
            return False
        now = time.time()
        decision = policy.decide_ts(message.number, now)
        if decision.action is Action.SEND:
            return True
        if decision.action is Action.EXPIRE:
            done.append(outcome(message, StateCode.EXPIRED, NOT_SENT_DEADLINE))
        elif not self._waiter.park(message, decision.until_ts or now):
            # The waiter is full: wait in the retrier, decided again when it comes back.
            delay = min(WAITER_FULL_RECHECK_S, (decision.until_ts or now) - now)
            self._retrier.schedule(self._gateway.name, message, max(delay, 1.0))
        return False

    def _outbound(self, message: Message, sender: str) -> Outbound:
        campaign = self._book.campaigns[message.campaign]
        reference = message_reference(message.campaign, message.number)
        if campaign.script is not None:  # a call: a new reference for each call placed
            return Outbound(f"{reference}/{message.calls + 1}", message.number, sender, "",
                            script=campaign.script(message.values))
        return Outbound(reference, message.number, sender, campaign.render(message.values),
                        True, message.part_offsets)  # receipt: yes (positional: cheaper)

    def _settle(self, message: Message, result: SubmitResult,
                done: list[tuple[str, Outcome]], keep: Keep | None = None) -> None:
        """Add the outcome to record to `done`, or schedule a retry; a call placed goes to
        the calls in progress, with the line it keeps."""
        if isinstance(result, Accepted):  # counted by the caller, once per batch
            if self._calls is not None:
                line, release = (keep(message) if keep else None) or (None, None)
                self._calls.placed(result.gateway_id, message, line, release)
                return
            done.append(outcome(message, StateCode.SUBMITTED, result.gateway_id))
        elif isinstance(result, Rejected):
            self._metrics.failed.inc()
            done.append(outcome(message, StateCode.FAILED, result.reason))
        else:
            if result.throttled:
                self._metrics.throttled.inc()
            message.waits += 1
            message.attempts += result.counts
            if self._policy.gives_up(message.attempts):
                self._metrics.failed.inc()
                reason = f"gave up after {message.attempts} attempts: {result.reason}"
                done.append(outcome(message, StateCode.FAILED, reason))
                return
            self._metrics.retried.inc()
            if result.throttled and not result.counts:  # at the gateway's pace
                after_s = self._policy.throttled_after(result.after_s, again=message.throttled)
                message.throttled = True
                self._retrier.schedule_throttled(self._gateway.name, message, after_s)
                return
            delay = self._policy.delay(message.waits, result.after_s, self._rng)
            self._retrier.schedule(self._gateway.name, message, delay)


def enqueued_at(message: Message) -> float:
    """When the message was queued: its stream entry id starts with Redis' time in ms."""
    return int(message.entry_id.split(b"-", 1)[0]) / 1000

