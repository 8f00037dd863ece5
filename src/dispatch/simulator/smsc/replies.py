"""Replies over SMPP: recipients of the SMSC's messages who answer — pure (times passed in).

Decided (dispatch.simulator.replies) when a message's receipt is scheduled, or at its last
part when it asks for no receipt. The reply leaves `reply_delay_ms` (+ jitter) after that
receipt went out (acknowledged or given up), or `receipt_delay_ms` + the reply delay after
acceptance without a receipt. It is an MO deliver_sm (esm_class 0) from the recipient to the
message's source_addr, with the ton and npi the message had, queued for the receivers
(bind_receiver or bind_transceiver) of the system_id that sent the message: the SMSC's
MO path, with its window, resends and bound. Injected MO (POST /mo over SMPP, --mo-rate)
that are opt-outs are tracked too, for `sent_after_stop`; a single-part message whose
payload is the confirmation text is counted as a confirmation.
"""

from __future__ import annotations

from dispatch.simulator.config import DELIVERED, SimulatorConfig
from dispatch.simulator.replies import ReplyBook, ReplyTicket
from dispatch.simulator.smsc.delivery import Deliveries, Delivery
from dispatch.simulator.smsc.messages import Acceptance
from dispatch.simulator.smsc.receipts import mo_pdus, routed_mo_pdus
from dispatch.smpp.pdu import SubmitSm


class SmscReplies:
    """Deciding and sending replies; the listener of `deliveries` for tracked MO."""

    def __init__(self, config: SimulatorConfig, book: ReplyBook,
                 deliveries: Deliveries) -> None:
        self.book = book
        self._deliveries = deliveries
        self._receipt_delay_s = config.receipt_delay_ms / 1000
        self._reference = 0  # of concatenated MO
        deliveries.replies = self

    def accepted(self, pdu: SubmitSm, acceptance: Acceptance, last_part: bool,
                 system_id: str, receipt: Delivery | None, now: float) -> None:
        """A submit_sm was accepted; `receipt`: the receipt it asked for, if any."""
        book = self.book
        confirmation = book.confirmation_payloads.get(pdu.data_coding) == pdu.short_message
        if acceptance.new and (book.stopped or confirmation):
            book.accepted(pdu.destination_addr, pdu.source_addr, now,
                          confirmation=confirmation)
        if not book.active or acceptance.outcome != DELIVERED:
            return
        if receipt is None and not last_part:
            return  # the reply follows the message's receipt, or its last part
        ticket = book.decide(pdu.destination_addr, pdu.source_addr)
        if ticket is None:
            return
        ticket.system_id = system_id
        ticket.route = (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr,
                        pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr)
        if receipt is not None:
            receipt.reply = ticket
        else:
            self._send(ticket, now + self._receipt_delay_s + book.delay())

    def send_mo(self, system_id: str, source: str, destination: str, text: str,
                now: float) -> int:
        """Queue an injected MO for the receivers of `system_id`; returns its part count."""
        pdus = mo_pdus(source, destination, text, self._next_reference())
        ticket = self.book.injected(source, destination, text)
        if ticket is not None:
            ticket.parts_left = len(pdus)
        self._deliveries.queue_mo(system_id, pdus, now, ticket)
        return len(pdus)

    def _send(self, ticket: ReplyTicket, due: float) -> None:
        assert ticket.route is not None
        pdus = routed_mo_pdus(ticket.route, self.book.text, self._next_reference())
        ticket.parts_left = len(pdus)
        self._deliveries.schedule_mo(due, ticket.system_id, pdus, ticket)

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) & 0xFF
        return self._reference

    # Listener of the deliveries.

    def receipt_settled(self, ticket: ReplyTicket, now: float) -> None:
        self._send(ticket, now + self.book.delay())

    def mo_transmitted(self, ticket: ReplyTicket, now: float) -> None:
        self.book.transmitted(ticket, now)

    def mo_settled(self, ticket: ReplyTicket, acknowledged: bool, now: float) -> None:
        self.book.part_settled(ticket, acknowledged, now)
