"""Shared pieces of the SMPP client tests: a fake Inbound, settings, a running gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from dispatch.gateways.smpp.gateway import SmppGateway
from dispatch.settings import GatewaySettings
from dispatch.smpp import DeliverSm
from dispatch.text import encode
from dispatch.vocabulary import InboundMessage, Outbound, Receipt

from .smsc import TestSmsc


@dataclass
class FakeInbound:
    """Records what the gateway hands over; can be made to wait (gate) or to fail."""

    receipts_calls: list[list[Receipt]] = field(default_factory=list)
    message_calls: list[list[InboundMessage]] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    gate: trio.Event | None = None
    fail: bool = False
    called: trio.Event = field(default_factory=trio.Event)

    async def receipts(self, receipts: Sequence[Receipt]) -> None:
        await self._record("receipts")
        self.receipts_calls.append(list(receipts))

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        await self._record("messages")
        self.message_calls.append(list(messages))

    async def _record(self, what: str) -> None:
        self.journal.append(what)
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("redis is down")
        self.journal.append(f"{what} recorded")


async def eventually(predicate: Callable[[], object], step_s: float = 0.01) -> None:
    """Poll for state the test SMSC does not see change (the caller bounds the wait)."""
    while not predicate():
        await trio.sleep(step_s)


async def bound(smsc: TestSmsc, gateway: SmppGateway, number: int = 0) -> None:
    """Until the SMSC has bound its `number`-th connection and the gateway knows it."""
    await smsc.connection(number)
    await eventually(lambda: gateway.bound)


def all_receipts(inbound: FakeInbound) -> list[Receipt]:
    return [receipt for call in inbound.receipts_calls for receipt in call]


def all_messages(inbound: FakeInbound) -> list[InboundMessage]:
    return [message for call in inbound.message_calls for message in call]


def settings(port: int, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"type": "smpp", "host": "127.0.0.1", "port": port,
                              "system_id": "dispatch", "password": "s3cret", "window": 10,
                              "timeout_s": 5.0, "enquire_link_s": 30.0, "reconnect_max_s": 4.0,
                              "sender": "DISPATCH"}
    values.update(overrides)
    return GatewaySettings(**values)


def outbound(count: int, text: str = "hello", start: int = 0) -> list[Outbound]:
    return [Outbound(f"ref-{i}", f"+3361234{i:04d}", "DISPATCH", text)
            for i in range(start, start + count)]


@asynccontextmanager
async def running_smsc(smsc: TestSmsc) -> AsyncIterator[TestSmsc]:
    async with trio.open_nursery() as nursery:
        await nursery.start(smsc.serve)
        yield smsc
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def running_gateway(config: GatewaySettings, inbound: FakeInbound | None = None,
                          name: str = "gw") -> AsyncIterator[SmppGateway]:
    gateway = SmppGateway(name, config)
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run, inbound or FakeInbound())
        yield gateway
        await gateway.aclose()
        nursery.cancel_scope.cancel()


def receipt_pdu(message_id: str, stat: str = "DELIVRD", err: str = "000",
                tlvs: dict[int, int | str | bytes] | None = None, esm_class: int = 0x04
                ) -> DeliverSm:
    text = (f"id:{message_id} sub:001 dlvrd:001 submit date:2401011200 "
            f"done date:2401011201 stat:{stat} err:{err} text:hello")
    return DeliverSm(source_addr="33612340000", source_addr_ton=1, destination_addr="DISPATCH",
                     esm_class=esm_class, short_message=text.encode(), tlvs=tlvs or {})


def mo_pdu(text: str, *, source: str = "33612345678", udh: bytes = b"",
           tlvs: dict[int, int | str | bytes] | None = None, data_coding: int = 0) -> DeliverSm:
    payload = encode(text, "ucs2" if data_coding == 8 else "gsm7")
    return DeliverSm(source_addr=source, source_addr_ton=1, source_addr_npi=1,
                     destination_addr="38123", dest_addr_ton=3, esm_class=0x40 if udh else 0,
                     data_coding=data_coding, short_message=udh + payload, tlvs=tlvs or {})
