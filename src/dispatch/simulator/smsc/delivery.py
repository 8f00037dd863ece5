"""Getting deliver_sm (receipts and MO) to the clients, and acknowledged — pure, times
passed in (trio.current_time() in the service).

A receipt is scheduled at acceptance for its due time; once due it waits, per system_id,
for a bound receiver (bind_receiver or bind_transceiver) with room in its window: the
transceiver that submitted the message if it is still bound, otherwise any receiver of
that system_id (waiting.py: one full window does not hold up the other binds).
Sent, it awaits its deliver_sm_resp on that connection; no response within
`smpp_receipt_timeout_s`, an error status, or the connection closing sends it again later
(doubling backoff from 1 s), until `smpp_receipt_attempts` attempts, after which it is
counted failed and logged. Deliveries waiting for a receiver are bounded in number
(`receipts_pending_limit`): one more is counted dropped and logged, never lost silently.

MO go the same way (queued at once, or scheduled: a reply). A delivery may carry a
ReplyTicket (replies.py): on an MO part, the MO it belongs to; on a receipt, the
reply that follows it. The `replies` listener hears when those are sent and settled.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Final, Protocol

from dispatch.policy.backoff import Backoff
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.replies import ReplyTicket
from dispatch.simulator.schedule import BucketSchedule
from dispatch.simulator.smsc.receipts import ReceiptJob, ReceiptWriter
from dispatch.simulator.smsc.stats import SmscCounters
from dispatch.simulator.smsc.waiting import WaitingLine
from dispatch.smpp.constants import Status
from dispatch.smpp.pdu import DeliverSm

log = logging.getLogger(__name__)

TICK_S: Final = 0.01  # receipts leave at most this long after they are due
RESEND_BACKOFF: Final = Backoff(first_s=1.0, max_s=30.0)
LOG_EVERY: Final = 1000  # log the first loss, then one in this many
RECEIPT: Final = "receipt"
MO: Final = "mo"


class Delivery:
    """One deliver_sm until acknowledged; its PDU is built when first sent."""

    __slots__ = ("attempts", "job", "kind", "order", "pdu", "reply", "sent_at", "system_id",
                 "via")

    def __init__(self, kind: str, system_id: str, *, job: ReceiptJob | None = None,
                 pdu: DeliverSm | None = None, via: Outlet | None = None,
                 reply: ReplyTicket | None = None) -> None:
        self.kind = kind
        self.system_id = system_id
        self.job = job
        self.pdu = pdu
        self.via = via  # the transceiver to prefer, if still bound
        # An MO part: the MO it belongs to, if tracked; a receipt: the reply to its message.
        self.reply = reply
        self.attempts = 0
        self.sent_at = 0.0
        self.order = 0  # its place among those waiting (WaitingLine)


class Outlet(Protocol):
    """A bound receiver or transceiver connection."""

    system_id: str
    awaiting: dict[int, Delivery]  # sequence number -> deliver_sm sent, oldest first

    def free_slots(self) -> int: ...

    def push(self, deliveries: list[Delivery], now: float) -> None:
        """Send them (their `pdu` is set) and record each in `awaiting`."""


class ReplyListener(Protocol):
    """Hears what becomes of the deliveries that carry a ReplyTicket."""

    def receipt_settled(self, ticket: ReplyTicket, now: float) -> None:
        """The receipt of a message whose recipient replies went out (or was given up)."""

    def mo_transmitted(self, ticket: ReplyTicket, now: float) -> None: ...

    def mo_settled(self, ticket: ReplyTicket, acknowledged: bool, now: float) -> None:
        """One part of the MO was acknowledged (ESME_ROK) or given up."""


class Deliveries:
    def __init__(self, config: SimulatorConfig, counters: SmscCounters) -> None:
        self.counters = counters
        self.writer = ReceiptWriter(config.receipt_format)
        self._timeout_s = config.smpp_receipt_timeout_s
        self._attempts = config.smpp_receipt_attempts
        self._limit = config.receipts_pending_limit
        self._scheduled: BucketSchedule[Delivery] = BucketSchedule(TICK_S)
        self._waiting: dict[str, WaitingLine[Outlet, Delivery]] = {}
        self._waiting_count = 0
        self._outlets: dict[str, list[Outlet]] = {}
        self._lost = 0  # failed or dropped, for the log
        self.sleep_until = math.inf  # set by the ticker: wake it for anything due earlier
        self.wakeup: Callable[[], None] = lambda: None
        self.replies: ReplyListener | None = None

    @property
    def waiting(self) -> int:
        return self._waiting_count

    # Entering.

    def schedule_receipt(self, due: float, system_id: str, job: ReceiptJob,
                         via: Outlet | None) -> Delivery:
        self.counters.receipts_pending += 1
        delivery = Delivery(RECEIPT, system_id, job=job, via=via)
        self._schedule(due, delivery)
        return delivery

    def _schedule(self, due: float, delivery: Delivery) -> None:
        self._scheduled.add(due, delivery.system_id, delivery)
        if due < self.sleep_until:
            self.wakeup()

    def queue_mo(self, system_id: str, pdus: list[DeliverSm], now: float,
                 ticket: ReplyTicket | None = None) -> None:
        self.counters.mo_pending += len(pdus)
        for pdu in pdus:
            self._wait(Delivery(MO, system_id, pdu=pdu, reply=ticket), now)
        self.pump(system_id, now)

    def schedule_mo(self, due: float, system_id: str, pdus: list[DeliverSm],
                    ticket: ReplyTicket) -> None:
        """An MO to send at `due` (a reply), tracked by `ticket`."""
        self.counters.mo_pending += len(pdus)
        for pdu in pdus:
            self._schedule(due, Delivery(MO, system_id, pdu=pdu, reply=ticket))

    def next_due(self) -> float | None:
        return self._scheduled.next_due()

    def release_due(self, now: float) -> None:
        """Move what is due to the waiting lines and send what the receivers can take."""
        for system_id, deliveries in self._scheduled.pop_due(now).items():
            for delivery in deliveries:
                self._wait(delivery, now)
            self.pump(system_id, now)

    def _wait(self, delivery: Delivery, now: float, *, first: bool = False) -> None:
        if self._waiting_count >= self._limit and not first:
            self._settle(delivery, now, dropped=True)
            return
        line = self._waiting.get(delivery.system_id)
        if line is None:
            line = self._waiting[delivery.system_id] = WaitingLine()
        via = delivery.via
        bound = via is not None and via in self._outlets.get(delivery.system_id, ())
        line.add(delivery, via if bound else None, first=first)
        self._waiting_count += 1

    # Receivers.

    def add_outlet(self, outlet: Outlet, now: float) -> None:
        self._outlets.setdefault(outlet.system_id, []).append(outlet)
        self.pump(outlet.system_id, now)

    def detach_outlet(self, outlet: Outlet) -> None:
        """Send nothing more there (it is closing); what it has may still be answered."""
        outlets = self._outlets.get(outlet.system_id, [])
        if outlet in outlets:
            outlets.remove(outlet)
        line = self._waiting.get(outlet.system_id)
        if line is not None:
            line.release(outlet)

    def remove_outlet(self, outlet: Outlet, now: float) -> None:
        """The connection closed: what it did not acknowledge goes back to the front of
        the line, for another receiver."""
        self.detach_outlet(outlet)
        for delivery in reversed(list(outlet.awaiting.values())):
            self._retry(delivery, now, at_once=True)
        outlet.awaiting.clear()
        self.pump(outlet.system_id, now)

    def pump(self, system_id: str, now: float) -> None:
        """Send waiting deliveries to the receivers of `system_id` that have room."""
        line = self._waiting.get(system_id)
        outlets = self._outlets.get(system_id)
        if not line or not outlets:
            return
        free = {outlet: outlet.free_slots() for outlet in outlets}
        for outlet in sorted(free, key=free.__getitem__, reverse=True):  # most room first
            batch = line.take(outlet, free[outlet])
            if batch:
                self._waiting_count -= len(batch)
                self._prepare(batch, now)
                outlet.push(batch, now)

    def _prepare(self, batch: list[Delivery], now: float) -> None:
        done = time.time()
        for delivery in batch:
            if delivery.pdu is None and delivery.job is not None:
                delivery.pdu = self.writer.pdu(delivery.job, done)
            if delivery.attempts and delivery.kind == RECEIPT:
                self.counters.receipts_resent += 1
            elif delivery.kind == MO and delivery.reply is not None \
                    and self.replies is not None:
                self.replies.mo_transmitted(delivery.reply, now)

    # Answers.

    def acknowledged(self, delivery: Delivery, status: int, now: float) -> None:
        """A deliver_sm_resp (or generic_nack) for `delivery` came back."""
        if status == Status.ESME_ROK:
            self._settle(delivery, now)
        else:
            self._retry(delivery, now)

    def expire(self, outlets: Iterable[Outlet], now: float) -> None:
        """Resend later what got no response within the timeout."""
        deadline = now - self._timeout_s
        for outlet in outlets:
            awaiting = outlet.awaiting
            while awaiting:
                sequence, delivery = next(iter(awaiting.items()))
                if delivery.sent_at > deadline:
                    break
                del awaiting[sequence]
                self._retry(delivery, now)

    def outlets(self) -> list[Outlet]:
        return [outlet for outlets in self._outlets.values() for outlet in outlets]

    def _retry(self, delivery: Delivery, now: float, *, at_once: bool = False) -> None:
        delivery.attempts += 1
        if delivery.attempts >= self._attempts:
            self._settle(delivery, now, failed=True)
        elif at_once:
            self._wait(delivery, now, first=True)
        else:
            self._schedule(now + RESEND_BACKOFF.ceiling(delivery.attempts), delivery)

    def _settle(self, delivery: Delivery, now: float, *, failed: bool = False,
                dropped: bool = False) -> None:
        if delivery.reply is not None and self.replies is not None:
            self._settle_reply(delivery, delivery.reply, now, ok=not (failed or dropped))
        counters = self.counters
        if delivery.kind == RECEIPT:
            counters.receipts_pending -= 1
            if dropped:
                counters.receipts_dropped += 1
            elif failed:
                counters.receipts_failed += 1
            else:
                counters.receipts_sent += 1
        else:
            counters.mo_pending -= 1
            if failed or dropped:
                counters.mo_failed += 1
            else:
                counters.mo_sent += 1
        if failed or dropped:
            self._lost += 1
            if self._lost % LOG_EVERY == 1:  # the first, then one in LOG_EVERY
                log.warning("smpp: %s a %s deliver_sm for system_id %s after %d attempt(s) "
                            "(%d so far, see /stats)", "dropped" if dropped else "gave up on",
                            delivery.kind, delivery.system_id, delivery.attempts, self._lost)

    def _settle_reply(self, delivery: Delivery, ticket: ReplyTicket, now: float, *,
                      ok: bool) -> None:
        assert self.replies is not None
        if delivery.kind == RECEIPT:
            self.replies.receipt_settled(ticket, now)
        else:
            self.replies.mo_settled(ticket, ok, now)
