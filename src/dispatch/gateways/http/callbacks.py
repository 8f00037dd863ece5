"""What HTTP gateways post back to the daemon's inbound port: delivery receipts
(POST /receipts) and replies from recipients (POST /inbound), read into the vocabulary and
handed to the daemon's `Inbound`.

A gateway gets its answer (200) only once what it posted is recorded, so nothing is
acknowledged and then lost; a body that cannot be read gets 400 with what is wrong in it.
One request often carries a single receipt: its receipts join those of other requests
waiting at the same moment, so they are recorded with one Redis call (Inbound.receipts,
join_others).

The format is the simulator's: receipts `{"id", "status", "error_code"}` (or a list of
them), replies `{"from", "to", "text"}` (or a list). It names no gateway, so every HTTP
gateway shares these two routes and a reply is labelled "http": the daemon finds its
gateway by the line it was sent to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import trio

from dispatch.gateways.base import INVALID_REPLY, Inbound
from dispatch.httpserver import Handler, Request, Response, error_response, json_response
from dispatch.vocabulary import InboundMessage, Receipt, StateCode

log = logging.getLogger(__name__)

# Final receipt statuses and the state each one leads to.
FINAL_STATUS_CODES: Final = {"delivered": StateCode.DELIVERED, "undeliverable": StateCode.FAILED,
                             "rejected": StateCode.FAILED, "expired": StateCode.EXPIRED}
INTERMEDIATE_STATUSES: Final = frozenset({"accepted", "enroute", "buffered", "sent"})
MAX_ITEMS_PER_REQUEST: Final = 10_000
REPLY_GATEWAY: Final = "http"  # the label of a reply posted to the shared route
# Bytes of bodies read into objects and not yet recorded, at most: a receipt in hand costs
# ~3 times its JSON, and 80 posts of 1 MiB at once, all in hand, took the daemon from 63 to
# 480 MB (and what Python keeps of a peak it keeps). Beyond, a post waits its turn.
BODIES_IN_HAND_BYTES: Final = 16 * 1024 * 1024


class Budget:
    """A number of bytes shared by the requests being handled: each takes its body's size
    (at most all of it) and waits while that much is not free."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._freed = trio.lowlevel.ParkingLot()

    @asynccontextmanager
    async def taken(self, amount: int) -> AsyncIterator[None]:
        amount = min(amount, self.total)
        while self.used + amount > self.total:
            await self._freed.park()
        self.used += amount
        try:
            yield
        finally:
            self.used -= amount
            self._freed.unpark_all()


class HttpCallbacks:
    """The two routes, handing what they read to `inbound`."""

    def __init__(self, inbound: Inbound, budget_bytes: int = BODIES_IN_HAND_BYTES) -> None:
        self._inbound = inbound
        self._budget = Budget(budget_bytes)

    def routes(self) -> dict[str, Handler]:
        return {"/receipts": self.receipts, "/inbound": self.replies}

    async def receipts(self, request: Request) -> Response:
        async with self._budget.taken(len(request.body)):
            return await self._receipts(request)

    async def replies(self, request: Request) -> Response:
        async with self._budget.taken(len(request.body)):
            return await self._replies(request)

    async def _receipts(self, request: Request) -> Response:
        try:
            receipts, ignored = parse_receipts(request.json())
        except ValueError as exc:
            self._inbound.not_recorded("invalid")
            log.warning("receipt request refused: %s", exc)
            return error_response(400, str(exc))
        if ignored:
            self._inbound.not_recorded("intermediate", ignored)
        await self._inbound.receipts(receipts, join_others=True)
        return json_response({"recorded": len(receipts), "ignored": ignored})

    async def _replies(self, request: Request) -> Response:
        try:
            messages = parse_inbound(request.json())
        except ValueError as exc:
            self._inbound.not_recorded(INVALID_REPLY)
            log.warning("inbound message request refused: %s", exc)
            return error_response(400, str(exc))
        await self._inbound.messages(messages)
        return json_response({"recorded": len(messages)})


def parse_receipts(payload: Any) -> tuple[list[Receipt], int]:
    """Final receipts to record, and how many intermediate ones were ignored."""
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise ValueError(f"more than {MAX_ITEMS_PER_REQUEST} receipts in one request")
    receipts = [r for index, item in enumerate(items)
                if (r := _parse_receipt(item, index)) is not None]
    return receipts, len(items) - len(receipts)


def _parse_receipt(item: Any, index: int) -> Receipt | None:
    if not isinstance(item, dict):
        raise ValueError(f"receipt {index}: expected an object")
    gateway_id, status = item.get("id"), item.get("status")
    if not isinstance(gateway_id, str) or not gateway_id:
        raise ValueError(f"receipt {index}: 'id' must be a non-empty string")
    if not isinstance(status, str):
        raise ValueError(f"receipt {index}: 'status' must be a string")
    status = status.lower()
    if status in INTERMEDIATE_STATUSES:
        return None
    if status not in FINAL_STATUS_CODES:
        raise ValueError(f"receipt {index}: unknown status {status[:40]!r}")
    reason = f"receipt {status}, error {str(item.get('error_code', ''))[:40]}"
    return Receipt(gateway_id, FINAL_STATUS_CODES[status], reason)


def parse_inbound(payload: Any, gateway: str = REPLY_GATEWAY) -> list[InboundMessage]:
    """`{"from", "to", "text"}` or a list of them, as HTTP gateways post replies."""
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise ValueError(f"more than {MAX_ITEMS_PER_REQUEST} messages in one request")
    messages = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"message {index}: expected an object")
        source, destination, text = item.get("from"), item.get("to"), item.get("text")
        if not (isinstance(source, str) and isinstance(destination, str)
                and isinstance(text, str)):
            raise ValueError(f"message {index}: 'from', 'to' and 'text' must be strings")
        messages.append(InboundMessage(source, destination, text, gateway))
    return messages
