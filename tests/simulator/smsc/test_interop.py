"""Interoperability with an independent SMPP client, smpplib (synchronous: it runs in a
worker thread here; threads are fine in tests, never in src)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.gsm
import trio

from dispatch.smpp.pdu import DeliverSm
from dispatch.smpp.receipts import read_receipt
from dispatch.text import decode

from .smpp_peer import running, simulator, wait_for

UCS2_TEXT = "Législatives : rendez-vous au bureau de vote dimanche 🗳️ — merci ! " * 2


@dataclass
class Seen:
    responses: list[Any] = field(default_factory=list)  # submit_sm_resp
    receipts: list[Any] = field(default_factory=list)  # deliver_sm, esm_class 0x04
    mo: list[Any] = field(default_factory=list)  # deliver_sm, esm_class 0
    unbind_status: int | None = None
    parts: int = 0  # submit_sm sent


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def smpplib_session(port: int, post_mo: Any) -> Seen:
    """The whole client side, synchronous: bind, two messages, receipts, MO, unbind."""
    seen = Seen()
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: seen.responses.append(pdu))
    client.set_message_received_handler(
        lambda pdu: (seen.receipts if pdu.esm_class & 0x04 else seen.mo).append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="acme", password="secret")
        count = _send(client, "Votez dimanche!", smpplib.consts.SMPP_ENCODING_DEFAULT)
        count += _send(client, UCS2_TEXT, smpplib.consts.SMPP_ENCODING_ISO10646)
        seen.parts = count
        trio.from_thread.run(post_mo)
        for _ in range(100):  # bounded: each read_once reads one PDU
            if len(seen.receipts) == len(seen.responses) == count and seen.mo:
                break
            client.read_once()
        seen.unbind_status = client.unbind().status
    finally:
        client.disconnect()
    return seen


def _send(client: smpplib.client.Client, text: str, encoding: int) -> int:
    parts, data_coding, esm_class = smpplib.gsm.make_parts(text, encoding=encoding)
    for part in parts:
        client.send_message(source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                            source_addr="CAMPAIGN", dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                            destination_addr="33612345678", short_message=part,
                            data_coding=data_coding, esm_class=esm_class,
                            registered_delivery=True)
    return len(parts)


async def test_smpplib_binds_submits_gets_receipts_and_mo_then_unbinds() -> None:
    sim = simulator(accounts={"acme": "secret"}, receipt_delay_ms=20)
    with trio.fail_after(30):
        async with running(sim) as run:
            async def post_mo() -> None:
                reply = await run.http.post("/mo", json={"from": "+33612345678",
                                                         "to": "CAMPAIGN", "text": "STOP"})
                assert reply.status_code == 202

            seen = await trio.to_thread.run_sync(smpplib_session, run.smpp_port, post_mo)
            await wait_for(lambda: sim.stats()["smpp"]["connections"] == 0)
    assert seen.unbind_status == 0
    assert seen.parts >= 3  # one GSM-7 part, the UCS-2 message in several
    assert len(seen.responses) == seen.parts
    assert all(r.status == 0 for r in seen.responses)
    response_ids = {_as_str(r.message_id) for r in seen.responses}
    assert {_as_str(r.receipted_message_id) for r in seen.receipts} == response_ids
    for pdu in seen.receipts:
        receipt = read_receipt(DeliverSm(esm_class=pdu.esm_class,
                                         short_message=pdu.short_message,
                                         tlvs={0x001E: _as_str(pdu.receipted_message_id),
                                               0x0427: pdu.message_state}))
        assert receipt is not None and receipt.fields.stat == "DELIVRD"
        assert receipt.fields.id in response_ids
    [mo] = seen.mo
    assert decode(mo.short_message, mo.data_coding) == "STOP"
    assert _as_str(mo.source_addr) == "33612345678"
    stats = sim.stats()
    assert (stats["accepted"], stats["duplicates"]) == (2, 0)
    assert stats["smpp"]["parts"] == stats["smpp"]["receipts_sent"] == seen.parts
    assert stats["smpp"]["mo_sent"] == 1
    assert stats["smpp"]["unbinds"] == 1
