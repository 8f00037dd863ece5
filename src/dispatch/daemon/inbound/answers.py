"""The Answerer: sends the answers recipients get (HELP, opt-out confirmations).

Off the campaign path on purpose: answers are few, come from their own stream
(store/answers.py), and skip what campaign messages go through — the send-time opt-out
check above all, since a confirmation goes to a number that has just opted out. They carry
only configured texts (dispatch.policy.answers), never campaign content.

Each answer goes out through the gateway its MO came from (`route`: an SMPP MO names its
gateway; the HTTP inbound endpoint is shared, so an HTTP MO finds its gateway by the line it
was sent to), from the line that received the MO, with a reference stable across retries
("answer-" + its stream id: the HTTP gateway's idempotency key). Accepted: logged sent.
Rejected: logged failed with the gateway's reason. Transient failure (or no route to its
gateway on this daemon): left pending, claimed again `retry_s` later by whichever daemon
gets it first; after `max_age_h` it is logged failed, never sent late. Nothing is dropped
without a line in the log. Over SMPP, an answer whose submission was under way when the
daemon died may go twice (no idempotency key), as campaign messages may.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.gateways.base import Gateway
from dispatch.policy.answers import AnswerTexts
from dispatch.settings import AnswerSettings
from dispatch.store.answers import FAILED, SENT, AnswerStore, Queued, Settled
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000


class Answerer:
    def __init__(self, store: AnswerStore, secret: Callable[[], Awaitable[str]],
                 settings: AnswerSettings, metrics: DaemonMetrics,
                 clock: Callable[[], float] = time.time) -> None:
        """`secret`: async callable giving the opt-out hash key (the log holds the keyed
        hash of each number, not the number)."""
        self._store = store
        self._secret = secret
        self._settings = settings
        self._metrics = metrics
        self._clock = clock  # wall clock: stream ids are wall-clock milliseconds

    async def run(self, gateways: Mapping[str, Gateway]) -> None:
        await with_redis_retry("answers", self._store.ensure_group, self._metrics)
        while True:
            await self.answer_once(gateways, READ_BLOCK_MS)

    async def answer_once(self, gateways: Mapping[str, Gateway], block_ms: int) -> int:
        """Answers due again (retries, a dead daemon's), else new ones: sent, logged and
        deleted, or left pending for a retry. Returns how many were settled."""
        count = self._settings.batch_size
        batch = await with_redis_retry(
            "answers", partial(self._store.claim, self._settings.retry_s, count), self._metrics)
        if not batch:
            batch = await with_redis_retry(
                "answers", partial(self._store.read, count, block_ms), self._metrics)
        settled: list[Settled] = []
        for (name, line), items in _by_gateway(batch).items():
            settled += await self._submit(route(gateways, name, line), name, items)
        if settled:
            secret = await with_redis_retry("answers", self._secret, self._metrics)
            await with_redis_retry("answers", partial(self._store.settle, settled, secret),
                                   self._metrics)
        return len(settled)

    async def _submit(self, gateway: Gateway | None, name: str, items: Sequence[Queued]
                      ) -> list[Settled]:
        sendable = [q for q in items if q.answer.to and q.answer.text]
        settled = [self._unsendable(q) for q in items if q not in sendable]
        results: list[SubmitResult] = []
        if gateway is None:
            results = [Retry(f"gateway {name!r} is not configured on this daemon")] * len(
                sendable)
        else:
            for start in range(0, len(sendable), gateway.batch_size):
                chunk = sendable[start:start + gateway.batch_size]
                results += await gateway.submit([_outbound(q) for q in chunk])
        for queued, result in zip(sendable, results, strict=True):
            outcome = self._outcome(queued, result)
            if outcome is not None:
                settled.append(outcome)
        return settled

    def _outcome(self, queued: Queued, result: SubmitResult) -> Settled | None:
        """What to log for a submission's result; None: leave it pending (a retry)."""
        reason = queued.answer.reason
        if isinstance(result, Accepted):
            self._metrics.answers.labels(reason, SENT).inc()
            return Settled(queued, SENT, result.gateway_id)
        if isinstance(result, Rejected):
            self._failed(queued, result.reason)
            return Settled(queued, FAILED, result.reason)
        if self._clock() - queued.queued_at > self._settings.max_age_h * 3600:
            detail = f"not sent within {self._settings.max_age_h:g} h: {result.reason}"
            self._failed(queued, detail)
            return Settled(queued, FAILED, detail)
        self._metrics.answers.labels(reason, "retried").inc()
        return None

    def _unsendable(self, queued: Queued) -> Settled:
        why = "no text" if queued.answer.to else "no number (erased by a purge)"
        self._failed(queued, why)
        return Settled(queued, FAILED, why)

    def _failed(self, queued: Queued, reason: str) -> None:
        self._metrics.answers.labels(queued.answer.reason, FAILED).inc()
        # No number in logs: the stream id finds the answer in the log.
        log.warning("answer %s (%s) failed: %s", queued.entry_id, queued.answer.reason, reason)


def answer_texts(settings: AnswerSettings | None) -> AnswerTexts | None:
    """What the reply handler answers with; None: no answers."""
    if settings is None:
        return None
    return AnswerTexts(settings.identity, settings.help_text, settings.optout_text,
                       settings.confirm_optout)


def route(gateways: Mapping[str, Gateway], name: str, line: str) -> Gateway | None:
    """The gateway an MO came from: by name, else the one sending from its line, else the
    only one configured; None when none of these says."""
    if name in gateways:
        return gateways[name]
    by_line = [gateway for gateway in gateways.values() if gateway.sender == line]
    if len(by_line) == 1:
        return by_line[0]
    return next(iter(gateways.values())) if len(gateways) == 1 else None


def _by_gateway(batch: Sequence[Queued]) -> dict[tuple[str, str], list[Queued]]:
    """The batch by gateway name and line (which together choose the route)."""
    groups: dict[tuple[str, str], list[Queued]] = {}
    for queued in batch:
        groups.setdefault((queued.answer.gateway, queued.answer.line), []).append(queued)
    return groups


def _outbound(queued: Queued) -> Outbound:
    answer = queued.answer
    return Outbound(f"answer-{queued.entry_id}", answer.to, answer.line, answer.text,
                    receipt=False)
