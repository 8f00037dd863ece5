"""One gateway's pools of lines as the daemon uses them: the messages of its pools'
campaigns wait here for a line, and its senders take (message, line) assignments out.

    reader / retrier / window waiter ──push──► LineFeed ──next_assignments──► senders
                                                  ▲                              │
                           campaign status ───────┘ (pause, resume, cancel)      release

Pause and resume map onto the scheduler's: a paused campaign keeps its messages queued
here and gets no line. Cancel takes its queued messages out and records them cancelled
(through the recorder, like any outcome), so none is lost. Campaign status comes from the
campaign book, followed on each of its refreshes (about once a second).

A message's cost on its line is what the gateway counts for its text (`parts`: SMS parts on
SMPP), rendered when it arrives here; the scheduler spaces the parts that its line cannot
take at once, and the sender hands those offsets to the gateway.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import trio

from dispatch.daemon.campaigns import Campaign, CampaignBook
from dispatch.daemon.outbound.line_service import LineService
from dispatch.daemon.outbound.messages import NOT_SENT_CANCELLED, Message, outcome
from dispatch.daemon.outbound.pool_leases import PoolLeases
from dispatch.lines.config import GatewayCaps, PoolConfig
from dispatch.lines.scheduler import Assignment, Line, LineScheduler
from dispatch.model import ACTIVE, CANCELLED, PAUSED, Share
from dispatch.store.line_leases import LineLeases
from dispatch.template import TemplateError
from dispatch.vocabulary import Outcome, StateCode

log = logging.getLogger(__name__)

HOLD_S = 2.0  # seconds of the lines' capacity the reader may queue here


@dataclass(frozen=True)
class LinePlan:
    """What a gateway's scheduler is built from."""

    pools: Sequence[PoolConfig]
    caps: GatewayCaps
    jitter_s: float = 0.05  # timing spread absorbed per line (see lines.scheduler)
    lease_s: float = 0.0  # leases of the lines shared with other daemons; 0: no leases


def _recipient(message: Message) -> str:
    return message.number


def _parts(message: Message) -> int:
    return message.parts


def _space(message: Message, offsets: tuple[float, ...]) -> None:
    message.part_offsets = offsets


class LineFeed:
    def __init__(self, gateway: str, plan: LinePlan, leases: LineLeases | None = None,
                 consumer: str = "", parts: Callable[[str], int] | None = None) -> None:
        """With `leases` (and `plan.lease_s`), only the lines this daemon leases are used
        (see pool_leases); without, every line of the plan's pools. `parts(text)`: the
        submissions the gateway counts for a text (None: one per message)."""
        self.gateway = gateway
        self.scheduler: LineScheduler[Message] = LineScheduler(
            plan.pools, _recipient, caps=plan.caps, jitter_s=plan.jitter_s,
            cost_of=_parts, on_spaced=_space, answer_timed=True)
        self._count_parts = parts
        self.service = LineService(self.scheduler)
        self.pools = [pool.name for pool in plan.pools]
        self._leases = [PoolLeases(leases, consumer, self.scheduler, pool, plan.lease_s,
                                   self._changed)
                        for pool in self.pools] if leases and plan.lease_s else []
        self._leasing = trio.CancelScope()
        self._status: dict[str, str] = {}  # campaigns scheduled here -> status applied
        self._pools: dict[str, str] = {}  # campaigns scheduled here -> their pool
        self._shares: dict[str, Share] = {}  # -> weight and priority applied
        self._taken = trio.Event()  # set after each batch handed out or lease change
        # Long messages whose parts are going out spaced (seconds each, at the lines'
        # pace): held, but not work the reader should wait for before reading more.
        self.spacing = 0

    async def next_assignments(self, max_n: int) -> list[Assignment[Message]]:
        """Up to `max_n` (message, line) to send now (see LineService); EndOfChannel once
        closed."""
        batch = await self.service.next_assignments(max_n)
        self._changed()
        return batch

    def _changed(self) -> None:
        """Wake whoever waits for room or for the drain: lines were taken or leased."""
        self._taken.set()
        self._taken = trio.Event()

    def release(self, line: Line, sent_until: float = -math.inf) -> None:
        self.service.release(line, sent_until)

    def release_window(self) -> None:
        """A long message handed to the gateway, its parts spaced out on its line."""
        self.scheduler.release_window()
        self.spacing += 1

    def release_line(self, line: Line, sent_until: float) -> None:
        """Its parts all answered (see LineScheduler.release_line)."""
        self.scheduler.release_line(line, sent_until)
        self.spacing -= 1

    def marks(self, lines: Iterable[Line]) -> dict[Line, float]:
        """Where `lines` stand, right after a take (see LineScheduler.delay)."""
        return self.scheduler.marks(lines)

    def delay(self, marks: Mapping[Line, float], delay_s: float) -> None:
        """The assignments taken at `marks` go out `delay_s` after they were taken."""
        self.scheduler.delay(marks, delay_s)

    def push(self, campaign: Campaign, messages: Sequence[Message]) -> None:
        """Queue messages of `campaign` for a line of its pool."""
        if campaign.id not in self._status:
            self.scheduler.set_campaign(campaign.id, campaign.pool)
            self._pools[campaign.id] = campaign.pool
            self._status[campaign.id] = ACTIVE
        for message in messages:
            message.parts = self._parts_of(campaign, message)
            message.part_offsets = ()  # a retry is spaced anew
        self.scheduler.push(campaign.id, messages)

    def _parts_of(self, campaign: Campaign, message: Message) -> int:
        if self._count_parts is None:
            return 1
        try:
            return self._count_parts(campaign.render(message.values))
        except TemplateError:  # refused by the sender, without being sent
            return 1

    def _apply_share(self, name: str, share: Share) -> None:
        if self._shares.get(name) != share:
            self.scheduler.set_campaign(name, self._pools[name], weight=share.weight,
                                        priority=share.priority)
            self._shares[name] = share

    def paused_held(self) -> int:
        """Messages of paused campaigns queued here: held, but not work in progress (the
        reader does not wait for them to go before reading other campaigns)."""
        return sum(self.scheduler.queued_in(name) for name, status in self._status.items()
                   if status == PAUSED)

    def apply(self, book: CampaignBook) -> list[Message]:
        """Bring each campaign's status and share here in line with the book's; returns
        the messages of campaigns cancelled since (to be recorded cancelled)."""
        dropped: list[Message] = []
        for name, applied in list(self._status.items()):
            self._apply_share(name, book.share_of(name))
            status = book.status_of(name)
            if status == applied:
                continue
            if status == CANCELLED:
                dropped += self.scheduler.cancel(name)
                del self._status[name], self._pools[name], self._shares[name]
                continue
            (self.scheduler.pause if status == PAUSED else self.scheduler.resume)(name)
            self._status[name] = status
        return dropped

    async def follow(self, book: CampaignBook,
                     outcomes: trio.MemorySendChannel[tuple[str, Outcome]]) -> None:
        """Apply campaign status after every refresh of the book, until cancelled."""
        async with outcomes:
            while True:
                await book.wait_refreshed()
                for message in self.apply(book):
                    await outcomes.send(outcome(message, StateCode.CANCELLED, NOT_SENT_CANCELLED))

    async def wait_room(self) -> None:
        """Until what waits here for a line (paused campaigns aside) is less than HOLD_S of
        the leased lines' capacity: the reader holds no more than the lines can soon send,
        so the messages of a pool shared by several daemons are shared too, and a daemon
        without lines (yet) takes none."""
        while self.scheduler.queued - self.paused_held() >= self.scheduler.capacity * HOLD_S:
            await self._taken.wait()

    async def keep_leases(self) -> None:
        """Lease this daemon's share of the lines until `close`."""
        with self._leasing:
            async with trio.open_nursery() as nursery:
                for pool in self._leases:
                    nursery.start_soon(pool.run)

    async def leave(self) -> None:
        """After `close`, once every sender is done: give this daemon's lines back."""
        for pool in self._leases:
            await pool.leave()

    async def drain(self) -> None:
        """At shutdown: until every message of an active campaign has had its line
        (bounded by the grace period; at once without lines); then `close`."""
        while self.scheduler.queued - self.paused_held() > 0 and self.scheduler.capacity:
            await self._taken.wait()

    def close(self) -> None:
        """Senders waiting for a line end; what is still queued stays pending in Redis and
        is taken up again on the next start (like a message in a retry)."""
        self._leasing.cancel()  # the leases expire (or are renewed by our successor)
        left = self.service.close()
        if left:
            log.info("gateway %s: %d messages left pending without a line", self.gateway,
                     len(left))


def not_busy(feeds: Sequence[LineFeed]) -> int:
    """Messages the line schedulers hold that are not work in progress: queued for a line
    while their campaign is paused, or sending parts spaced out."""
    return sum(feed.paused_held() + feed.spacing for feed in feeds)


async def room(feeds: Sequence[LineFeed]) -> None:
    """Until every line scheduler wants more messages."""
    for feed in feeds:
        await feed.wait_room()


async def drain(feeds: Sequence[LineFeed]) -> None:
    """Let the line schedulers hand out what they hold, then close them (also when the
    grace period runs out meanwhile)."""
    try:
        async with trio.open_nursery() as nursery:
            for feed in feeds:
                nursery.start_soon(feed.drain)
    finally:
        for feed in feeds:
            feed.close()
