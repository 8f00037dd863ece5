"""deliver_sm from the SMSC: receipts and MO, recorded through `Inbound`, then answered.

Each connection hands a batch (what one read brought, plus whatever queued meanwhile) to
`DeliveryHandler.handle` (receipts the connection read from the bytes come as FrameReceipt,
the others as the decoded DeliverSm), which makes at most one `inbound.receipts()` and one
`inbound.messages()` call for it and returns the deliver_sm_resp status of every PDU:
ESME_ROK once recorded, ESME_RX_T_APPN (try later) if recording failed, so the SMSC resends.
Several batches may be handled at once (the SMSC's window keeps filling while one is
recorded); their replies (MO) are still recorded in arrival order (`InOrder`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, NamedTuple

import trio

from dispatch.gateways.base import Inbound
from dispatch.gateways.smpp.in_order import InOrder
from dispatch.gateways.smpp.mo import Completed, MoAssembler
from dispatch.gateways.smpp.stats import ClientStats
from dispatch.logs import OutageLog, error_kind
from dispatch.smpp.constants import Status
from dispatch.smpp.pdu import DeliverSm
from dispatch.smpp.receipts import MessageState, read_receipt
from dispatch.smpp.receipts import Receipt as SmppReceipt
from dispatch.vocabulary import InboundMessage, Receipt, StateCode

log = logging.getLogger(__name__)

RECEIPT_CODES: Final[dict[MessageState, StateCode]] = {
    MessageState.DELIVERED: StateCode.DELIVERED, MessageState.EXPIRED: StateCode.EXPIRED,
    MessageState.UNDELIVERABLE: StateCode.FAILED, MessageState.REJECTED: StateCode.FAILED,
    MessageState.DELETED: StateCode.FAILED, MessageState.UNKNOWN: StateCode.FAILED,
}
OK: Final = int(Status.ESME_ROK)
TRY_LATER: Final = int(Status.ESME_RX_T_APPN)
SWEEP_S: Final = 60.0


class FrameReceipt(NamedTuple):
    """A receipt read from its deliver_sm's bytes (smpp.fast.frame_receipt)."""

    sequence_number: int  # the deliver_sm's: its answer's
    receipt: SmppReceipt


Delivery = DeliverSm | FrameReceipt


def final_receipt(found: SmppReceipt) -> Receipt | None:
    """The daemon's Receipt for a final one; None for those only to acknowledge
    (intermediate: enroute, accepted; or without an id to match)."""
    code = None if found.intermediate else RECEIPT_CODES.get(found.state)
    if code is None or not found.message_key:
        return None
    # Only a failure's reason is recorded: a delivered receipt's text need not be parsed.
    reason = "receipt delivered" if code is StateCode.DELIVERED else \
        f"receipt {found.state.name.lower()}, error {found.error or 'none'}"
    return Receipt(found.message_key, code, reason)


class DeliveryHandler:
    def __init__(self, gateway: str, inbound: Inbound, assembler: MoAssembler,
                 stats: ClientStats, *, submit_id_base: int | None,
                 receipt_id_base: int | None) -> None:
        self.gateway = gateway
        self._inbound = inbound
        self._recording = OutageLog(f"gateway {gateway}: recording what the SMSC delivers",
                                    log, unit="items not recorded",
                                    extra={"gateway": gateway})
        self._assembler = assembler
        self._stats = stats
        self._submit_base = submit_id_base
        self._text_base = receipt_id_base
        self._replies_in_order = InOrder()

    def arrived(self) -> int:
        """A ticket for a batch that just arrived, taken in arrival order (before the batch
        is handed to a task of its own: tasks started together may run in any order)."""
        return self._replies_in_order.ticket()

    async def handle(self, pdus: Sequence[Delivery], ticket: int | None = None
                     ) -> list[int]:
        """The deliver_sm_resp status of each PDU, once what they carry is recorded."""
        if ticket is None:
            ticket = self.arrived()
        try:
            return await self._handle(pdus, ticket)
        finally:
            self._replies_in_order.release(ticket)

    async def _handle(self, pdus: Sequence[Delivery], ticket: int) -> list[int]:
        statuses = [OK] * len(pdus)
        now = trio.current_time()
        receipts: list[Receipt] = []
        receipt_at: list[int] = []
        completed: list[tuple[int, Completed]] = []
        for index, pdu in enumerate(pdus):
            found = pdu.receipt if isinstance(pdu, FrameReceipt) else read_receipt(
                pdu, submit_id_base=self._submit_base, text_id_base=self._text_base)
            if found is None:
                assert isinstance(pdu, DeliverSm)  # a FrameReceipt is one
                done = self._assembler.add(pdu, now)
                if done is not None:
                    completed.append((index, done))
            elif (receipt := final_receipt(found)) is not None:
                receipts.append(receipt)
                receipt_at.append(index)
            else:
                self._stats.receipts_acknowledged_only += 1
        async with self._replies_in_order.turn(ticket):
            await self._record_messages(completed, statuses, now)
        await self._record_receipts(receipts, receipt_at, statuses)
        return statuses

    async def _record_receipts(self, receipts: list[Receipt], at: list[int],
                               statuses: list[int]) -> None:
        if not receipts:
            return
        if await self._recorded(self._inbound.receipts, receipts, "receipts"):
            self._stats.receipts += len(receipts)
            return
        for index in at:
            statuses[index] = TRY_LATER

    async def _record_messages(self, completed: list[tuple[int, Completed]],
                               statuses: list[int], now: float) -> None:
        if completed and await self._recorded(
                self._inbound.messages, [done.message for _, done in completed], "messages"):
            self._stats.mo_messages += len(completed)
        elif completed:
            for index, done in completed:
                statuses[index] = TRY_LATER
                self._assembler.put_back(done, now)
        await self._record_expired(now)

    async def sweep(self, every_s: float = SWEEP_S) -> None:
        """Forever: record split messages whose missing parts never came, even when no
        other deliver_sm arrives to trigger it."""
        while True:
            await trio.sleep(every_s)
            await self._record_expired(trio.current_time())

    async def _record_expired(self, now: float) -> None:
        partial = self._assembler.expire(now)
        if not partial:
            return
        log.warning("gateway %s: %d split inbound message(s) never completed; recording "
                    "the parts that arrived", self.gateway, len(partial))
        if await self._recorded(self._inbound.messages, partial, "messages"):
            self._stats.mo_messages += len(partial)
        else:
            # Their parts were acknowledged long ago: the SMSC will not send them again.
            log.error("gateway %s: %d incomplete inbound message(s) lost", self.gateway,
                      len(partial))

    async def _recorded(self, record: Callable[[Any], Awaitable[None]],
                        items: list[Receipt] | list[InboundMessage], what: str) -> bool:
        try:
            await record(items)
        except Exception as exc:  # whatever failed, the SMSC must resend
            self._stats.inbound_failures += len(items)
            # One line when recording starts failing (Redis away: every deliver_sm fails
            # until it is back), one a minute while it lasts, one when it works again.
            self._recording.failed(f"{error_kind(exc, what)}; answering ESME_RX_T_APPN "
                                   "so the SMSC resends", len(items))
            return False
        self._recording.recovered()
        return True

