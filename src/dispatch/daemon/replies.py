"""Replies from recipients (MO): STOP honoured before the reply is acknowledged.

Each reply is classified (policy.keywords). An opt-out is written to the suppression list
for the line it was sent to — a STOP to a shared short code applies to every client using
it — with an audit record (when, number, line, raw text, the campaigns it answered); START
and UNSTOP lift that line's opt-out. Every reply is then stored in the inbound stream with
its intent. Only after that does the gateway get its acknowledgement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from dispatch import phone
from dispatch.daemon.inflight import InFlightNumbers
from dispatch.gateways.base import InboundMessage
from dispatch.policy.keywords import Intent, classify
from dispatch.store.optout import OptOutEvent, line_scope
from dispatch.store.queue import Queue

SUBMISSION_WAIT_S = 30.0  # at most: a gateway's answer timeout


class ReplyHandler:
    def __init__(self, queue: Queue, campaigns: Callable[[], Iterable[str]],
                 submitting: InFlightNumbers | None = None) -> None:
        """`campaigns`: the campaigns a reply may answer (the daemon's campaign book);
        `submitting`: the numbers the daemon's senders are submitting right now."""
        self._queue = queue
        self._campaigns = campaigns
        self._submitting = submitting or InFlightNumbers()

    async def handle(self, messages: Sequence[InboundMessage]) -> list[Intent]:
        intents = [classify(message.text) for message in messages]
        opt_outs: list[OptOutEvent] = []
        opt_ins: list[OptOutEvent] = []
        for message, intent in zip(messages, intents, strict=True):
            if intent in (Intent.OPT_OUT, Intent.OPT_IN):
                event = await self._event(message)
                (opt_outs if intent is Intent.OPT_OUT else opt_ins).append(event)
        await self._queue.optouts.add(opt_outs)
        await self._queue.optouts.remove(opt_ins)
        # Acknowledge a STOP only once no submission to that number is under way.
        await self._submitting.wait_clear((e.number for e in opt_outs), SUBMISSION_WAIT_S)
        await self._queue.store_inbound(messages, [str(intent) for intent in intents])
        return intents

    async def _event(self, message: InboundMessage) -> OptOutEvent:
        number = _e164(message.source)
        answered = await self._queue.campaigns_with(number, list(self._campaigns()))
        return OptOutEvent(number, line_scope(message.destination), "mo",
                           line=message.destination, text=message.text,
                           campaign=",".join(answered))


def _e164(source: str) -> str:
    """The sender's number as campaigns store it (E.164), or as given when not a number."""
    e164, _ = phone.normalise(source, "FR")
    return e164 or source
