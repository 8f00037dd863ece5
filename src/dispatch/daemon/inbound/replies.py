"""Replies from recipients (MO): STOP honoured before the reply is acknowledged.

Each reply is classified (policy.keywords). An opt-out is written to the suppression list
for the line it was sent to — a STOP to a shared short code applies to every client using
it — with an audit record (when, number, line, raw text, the campaigns it answered); START
and UNSTOP lift that line's opt-out. Every reply is then stored in the inbound stream with
its intent. Only after that does the gateway get its acknowledgement.

Answers (with `texts`, dispatch.policy.answers): a HELP gets who sends and how to object,
queued with the reply in one transaction, unless the number opted out of that line (a STOP
in the same batch counts: opt-outs are recorded first); an opt-out carries its
confirmation, queued by the opt-out's own atomic write only if the opt-out is new. The
daemon's Answerer sends them.

In process first: before anything goes to Redis, each opt-out is noted in the daemon's
`RecentOptOuts` (and each opt-in lifted from it), which the senders' last check consults
(outbound/optout_check.py). A message this daemon holds for the number (in a sender's
batch, the window waiter, the line scheduler, a check on its way to Redis) is suppressed
from the moment the STOP is read, not from the moment Redis has it. If writing it then
fails, the gateway resends the STOP; a message held back meanwhile is one that the STOP
was meant to stop anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import trio

from dispatch import phone
from dispatch.daemon.outbound.inflight import InFlightNumbers
from dispatch.daemon.outbound.optout_check import RecentOptOuts
from dispatch.policy.answers import AnswerTexts
from dispatch.policy.keywords import Intent, classify
from dispatch.store.answers import Answer
from dispatch.store.optout import ALL, OptOutEvent, line_scope
from dispatch.store.queue import Queue
from dispatch.vocabulary import InboundMessage, Keypress

SUBMISSION_WAIT_S = 30.0  # at most: a gateway's answer timeout
OPT_OUT_DIGIT = "9"  # pressed during a call: do not call me again
LOOKUPS = 16  # campaign lookups of one batch's opt-outs in flight at once


class ReplyHandler:
    def __init__(self, queue: Queue, campaigns: Callable[[], Iterable[str]],
                 submitting: InFlightNumbers | None = None, *,
                 texts: AnswerTexts | None = None,
                 identity_of: Callable[[str], str] = lambda campaign: "",
                 recent: RecentOptOuts | None = None) -> None:
        """`campaigns`: the campaigns a reply may answer (the daemon's campaign book);
        `submitting`: the numbers the daemon's senders are submitting right now; `texts`:
        the answers to give (None: none); `identity_of`: who a campaign's text names;
        `recent`: the opt-outs the senders' last check consults in process."""
        self._queue = queue
        self._recent = recent if recent is not None else RecentOptOuts()
        self._campaigns = campaigns
        self._submitting = submitting or InFlightNumbers()
        self._texts = texts
        self._identity_of = identity_of

    async def handle(self, messages: Sequence[InboundMessage]) -> list[Intent]:
        intents = [classify(message.text) for message in messages]
        self._note_in_process(messages, intents)  # before any round trip
        opt_outs = await self._change_optouts(messages, intents)
        helps = await self._help_answers(messages, intents)  # after: a STOP beside it holds
        # Acknowledge a STOP only once no submission to that number is under way.
        await self._submitting.wait_clear((e.number for e in opt_outs), SUBMISSION_WAIT_S)
        await self._queue.store_inbound(messages, [str(intent) for intent in intents], helps)
        return intents

    async def keypresses(self, presses: Sequence[Keypress]) -> list[Keypress]:
        """A 9 pressed during a call opts the number out (audited, source "dtmf", the line
        that called); returns the 9s. Of every line, not only the caller's: a voice
        campaign calls from thousands of lines, and "ne plus être appelé" must hold for
        the next call whatever its line, and for the number's queued calls and SMS alike.
        Acknowledged, like a STOP, only once no submission to that number is under way."""
        stops = [press for press in presses if OPT_OUT_DIGIT in press.digits]
        self._recent.add((_e164(press.source), ALL) for press in stops)
        events = [await self._keypress_event(press) for press in stops]
        await self._queue.optouts.add(events)
        await self._submitting.wait_clear((e.number for e in events), SUBMISSION_WAIT_S)
        return stops

    def _note_in_process(self, messages: Sequence[InboundMessage],
                         intents: Sequence[Intent]) -> None:
        """Opt-outs and opt-ins into `recent`, in their order (a STOP then a START of one
        number leaves it free)."""
        for message, intent in zip(messages, intents, strict=True):
            key = (_e164(message.source), line_scope(message.destination))
            if intent is Intent.OPT_OUT:
                self._recent.add([key])
            elif intent is Intent.OPT_IN:
                self._recent.discard([key])

    async def _keypress_event(self, press: Keypress) -> OptOutEvent:
        number = _e164(press.source)
        answered = await self._answered(number)
        return OptOutEvent(number, ALL, "dtmf",
                           line=press.destination, text=press.digits,
                           campaign=",".join(answered))

    async def _change_optouts(self, messages: Sequence[InboundMessage],
                              intents: Sequence[Intent]) -> list[OptOutEvent]:
        """Record the opt-outs and opt-ins among `messages`; returns the opt-outs."""
        opt_outs: list[OptOutEvent] = []
        opt_ins: list[OptOutEvent] = []
        changes = [(message, intent) for message, intent in zip(messages, intents, strict=True)
                   if intent in (Intent.OPT_OUT, Intent.OPT_IN)]
        answered = await self._answered_all(_e164(message.source) for message, _ in changes)
        for message, intent in changes:
            event = self._event(message, intent, answered[_e164(message.source)])
            (opt_outs if intent is Intent.OPT_OUT else opt_ins).append(event)
        await self._queue.optouts.add(opt_outs)
        await self._queue.optouts.remove(opt_ins)
        return opt_outs

    async def _help_answers(self, messages: Sequence[InboundMessage],
                            intents: Sequence[Intent]) -> list[Answer]:
        """The answers to HELP, INFO, AIDE: none to a number that opted out of the line
        (after a STOP, only its one confirmation reaches the number)."""
        if self._texts is None:
            return []
        helps = [(message, _e164(message.source))
                 for message, intent in zip(messages, intents, strict=True)
                 if intent is Intent.HELP]
        if not helps:
            return []
        stopped = await self._queue.optouts.opted_out_by_line(  # one call for the batch
            [number for _, number in helps], [message.destination for message, _ in helps])
        answers: list[Answer] = []
        for (message, number), opted_out in zip(helps, stopped, strict=True):
            if not opted_out:
                answer = self._answer(message, number, Intent.HELP,
                                      await self._answered(number))
                answers += [answer] if answer is not None else []
        return answers

    def _event(self, message: InboundMessage, intent: Intent, answered: list[str]
               ) -> OptOutEvent:
        number = _e164(message.source)
        return OptOutEvent(number, line_scope(message.destination), "mo",
                           line=message.destination, text=message.text,
                           campaign=",".join(answered),
                           answer=self._answer(message, number, intent, answered))

    async def _answered_all(self, numbers: Iterable[str]) -> dict[str, list[str]]:
        """The campaigns that wrote to each number, looked up side by side: a burst of
        STOPs in one batch waits for about one round trip before it is written, not for
        one per STOP."""
        found: dict[str, list[str]] = {}
        limiter = trio.CapacityLimiter(LOOKUPS)

        async def look(number: str) -> None:
            async with limiter:
                found[number] = await self._answered(number)

        async with trio.open_nursery() as nursery:
            for number in dict.fromkeys(numbers):
                nursery.start_soon(look, number)
        return found

    async def _answered(self, number: str) -> list[str]:
        """The campaigns that wrote to `number`."""
        return await self._queue.campaigns_with(number, list(self._campaigns()))

    def _answer(self, message: InboundMessage, number: str, intent: Intent,
                answered: Sequence[str]) -> Answer | None:
        """The answer `message` gets, from the line it was sent to, if any."""
        reason = self._texts.reason_for(intent) if self._texts is not None else None
        if self._texts is None or reason is None:
            return None
        text = self._texts.text(reason, message.destination,
                                [self._identity_of(c) for c in answered])
        return Answer(number, message.destination, message.gateway, text, reason)


def _e164(source: str) -> str:
    """The sender's number as campaigns store it (E.164), or as given when not a number."""
    e164, _ = phone.normalise(source, "FR", calls=True)
    return e164 or source
