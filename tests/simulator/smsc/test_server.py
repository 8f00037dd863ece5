"""The SMSC over TCP with an ESME built on the project's Session: binds, submissions,
receipts, the ledger shared with HTTP, MO, enquire_link."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from dispatch.smpp import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
    encode_pdu,
)
from dispatch.smpp.receipts import MessageState, read_receipt
from dispatch.smpp.udh import UDHI, concat_header, message_content
from dispatch.text import decode, encode

from .smpp_peer import Esme, bound, running, simulator, submit, wait_for


@pytest.mark.parametrize(("system_id", "password", "status"), [
    ("acme", "secret", Status.ESME_ROK),
    ("acme", "wrong", Status.ESME_RINVPASWD),
    ("nobody", "secret", Status.ESME_RINVSYSID),
])
async def test_bind_authentication(system_id: str, password: str, status: int) -> None:
    sim = simulator(accounts={"acme": "secret"})
    with trio.fail_after(10):
        async with running(sim) as run:
            esme = await Esme.connect(run.smpp_port)
            response = await esme.bind(BindTransmitter(system_id=system_id, password=password))
            await esme.aclose()
    assert response.command_status == status
    assert response.system_id == "dispatchsim"
    smpp = sim.stats()["smpp"]
    assert (smpp["binds"], smpp["bind_failures"]) == ((1, 0) if status == 0 else (0, 1))


async def test_any_bind_is_accepted_without_accounts_and_a_second_bind_is_refused() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port, BindReceiver(system_id="x")) as esme:
            # Our own Session refuses to send it: bypass it.
            await esme.send_raw(encode_pdu(BindTransceiver(99, system_id="x")))
            again = await esme.expect(BindTransceiverResp)
            assert (again.sequence_number, again.command_status) == (99, Status.ESME_RALYBND)
            await esme.send(EnquireLink())
            assert isinstance(await esme.event(), EnquireLinkResp)


async def test_submit_then_receipt_on_the_same_transceiver() -> None:
    sim = simulator(receipt_delay_ms=50)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            [sequence] = await esme.send(submit(encode("Vote Dupont!", "gsm7"),
                                                registered_delivery=1, reference="m1"))
            response = await esme.expect(SubmitSmResp)
            assert (response.sequence_number, response.command_status) == (sequence, 0)
            deliver = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(deliver.sequence_number))
            await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
    receipt = read_receipt(deliver)
    assert receipt is not None
    assert receipt.message_id == response.message_id
    assert receipt.fields.id == response.message_id
    assert receipt.state is MessageState.DELIVERED and receipt.error == "000"
    assert receipt.fields.text == "Vote Dupont!"
    assert (deliver.source_addr, deliver.destination_addr) == ("33612345678", "33700000001")
    stats = sim.stats()
    assert (stats["accepted"], stats["duplicates"], stats["outcomes"]["delivered"]) == (1, 0, 1)
    assert stats["smpp"]["receipts_pending"] == 0 and stats["smpp"]["parts"] == 1
    assert sim.ledger.is_accepted("m1")


async def test_message_ids_are_unique() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(50)])
            responses = [await esme.expect(SubmitSmResp) for _ in range(50)]
    assert len({r.message_id for r in responses}) == 50
    assert sim.stats()["accepted"] == 50


@pytest.mark.parametrize(("outcome", "receipts"), [("delivered", 0), ("undeliverable", 1)])
async def test_registered_delivery_on_failure_only(outcome: str, receipts: int) -> None:
    sim = simulator(outcomes={outcome: 1.0})
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(registered_delivery=2), submit(b"other"))
            await esme.expect(SubmitSmResp)
            await esme.expect(SubmitSmResp)
            assert sim.stats()["smpp"]["receipts_pending"] == receipts
            if receipts:
                deliver = await esme.expect(DeliverSm)
                receipt = read_receipt(deliver)
                assert receipt is not None and receipt.state is MessageState.UNDELIVERABLE
                assert receipt.fields.stat == "UNDELIV" and receipt.fields.dlvrd == "000"


async def test_receipt_goes_to_a_receiver_of_the_same_system_id_once_bound() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, \
                bound(run.smpp_port, BindTransmitter(system_id="acme")) as sender:
            await sender.send(submit(registered_delivery=1))
            response = await sender.expect(SubmitSmResp)
            assert sim.smsc is not None
            deliveries = sim.smsc.core.deliveries
            await wait_for(lambda: deliveries.waiting == 1)  # due, nobody to receive it
            async with bound(run.smpp_port, BindReceiver(system_id="other")) as stranger, \
                    bound(run.smpp_port, BindReceiver(system_id="acme")) as receiver:
                deliver = await receiver.expect(DeliverSm)
                await receiver.send(DeliverSmResp(deliver.sequence_number))
                await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
                await stranger.send(EnquireLink())
                assert isinstance(await stranger.event(), EnquireLinkResp)
    assert deliver.tlvs[Tag.RECEIPTED_MESSAGE_ID] == response.message_id
    assert sim.stats()["smpp"]["receipts_pending"] == 0


async def test_concatenated_ucs2_message_is_one_ledger_entry() -> None:
    sim = simulator()
    text = "Élection municipale : votez 🗳️ dimanche ! " * 4
    payload = encode(text, "ucs2")
    chunks = [payload[i:i + 134] for i in range(0, len(payload), 134)]
    parts = [submit(concat_header(7, len(chunks), n) + chunk, esm_class=UDHI, data_coding=8,
                    registered_delivery=1)
             for n, chunk in enumerate(chunks, start=1)]
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*parts)
            responses = [await esme.expect(SubmitSmResp) for _ in parts]
            receipts = [await esme.expect(DeliverSm) for _ in parts]
            await esme.send(*[DeliverSmResp(r.sequence_number) for r in receipts])
            await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == len(parts))
    assert len(chunks) == 3 and all(r.command_status == 0 for r in responses)
    stats = sim.stats()
    assert (stats["accepted"], stats["duplicates"], stats["smpp"]["parts"]) == (1, 0, 3)
    assert sum(stats["outcomes"].values()) == 1
    ids = {r.tlvs[Tag.RECEIPTED_MESSAGE_ID] for r in receipts}
    assert ids == {r.message_id for r in responses}
    first = read_receipt(receipts[0])
    assert first is not None and first.fields.text is not None
    assert first.fields.text.startswith("?lection municipale")  # ASCII receipts


async def test_duplicates_by_reference_tlv_and_by_content() -> None:
    sim = simulator()
    long_parts = [submit(concat_header(9, 2, n) + b"part", esm_class=UDHI, reference="long")
                  for n in (1, 2)]
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            pdus = [submit(reference="a"), submit(reference="a"), submit(b"same"),
                    submit(b"same"), submit(b"same", destination="33699999999"),
                    *long_parts, long_parts[1]]
            for pdu in pdus:  # one at a time: the order of acceptance is the order sent
                await esme.send(pdu)
                assert (await esme.expect(SubmitSmResp)).command_status == 0
    stats = sim.stats()
    # a, same, same to another number, long: 4 messages; a again, same again, part 2 again
    assert (stats["accepted"], stats["duplicates"], stats["smpp"]["parts"]) == (4, 3, 8)


async def test_smpp_and_http_share_the_ledger() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            sms = {"reference": "r1", "to": "+33612345678", "from": "X", "text": "hi",
                   "callback_url": None}
            assert (await run.http.post("/sms", json=sms)).status_code == 200
            await esme.send(submit(reference="r1"), submit(reference="r2"))
            await esme.expect(SubmitSmResp)
            await esme.expect(SubmitSmResp)
            stats = (await run.http.get("/stats")).json()
    assert (stats["accepted"], stats["duplicates"]) == (2, 1)
    assert stats["smpp"]["submit_sm"] == 2 and stats["line_violations"] == 0


async def test_stats_shape() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run:
            stats = (await run.http.get("/stats")).json()
    assert {"binds", "submit_sm", "parts", "throttled", "queue_full", "errors_injected",
            "no_response", "receipts_sent", "receipts_pending", "mo_sent",
            "junk"} <= set(stats["smpp"])
    assert stats["line_violations"] == 0


async def test_client_unbind_is_answered_then_the_connection_closes() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(), Unbind())
            events = await esme.until_closed()
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["SubmitSmResp", "UnbindResp", "ConnectionClosed"]
    assert sim.stats()["smpp"]["unbinds"] == 1


async def test_server_enquire_link(autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(smpp_enquire_link_s=30)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            request = await esme.expect(EnquireLink)
            await esme.send(EnquireLinkResp(request.sequence_number))
            assert trio.current_time() >= 30
            await esme.expect(EnquireLink)
    assert sim.stats()["smpp"]["enquire_links_sent"] >= 2


async def test_mo_injection_over_http() -> None:
    sim = simulator()
    long_text = "Je ne veux plus recevoir vos messages, merci de me retirer de la liste. " * 3
    with trio.fail_after(10):
        async with running(sim) as run:
            refused = await run.http.post("/mo", json={"from": "+33612345678", "to": "CAMP",
                                                       "text": "STOP"})
            assert refused.status_code == 409
            async with bound(run.smpp_port, BindReceiver(system_id="acme")) as esme:
                reply = await run.http.post("/mo", json=[
                    {"from": "+33612345678", "to": "CAMP", "text": "STOP"},
                    {"from": "+33612345679", "to": "36180", "text": long_text}])
                assert reply.status_code == 202 and reply.json() == {"messages": 2, "parts": 3}
                delivers = [await esme.expect(DeliverSm) for _ in range(3)]
                await esme.send(*[DeliverSmResp(d.sequence_number) for d in delivers])
                await wait_for(lambda: sim.stats()["smpp"]["mo_sent"] == 3)
            bad = await run.http.post("/mo", json={"from": "+33612345678", "to": "X"})
            assert bad.status_code == 400 and "message 0: 'text'" in bad.json()["error"]
    stop = delivers[0]
    assert (stop.esm_class, stop.source_addr, stop.destination_addr) == (0, "33612345678", "CAMP")
    assert decode(stop.short_message, stop.data_coding) == "STOP"
    parts = [message_content(d.esm_class, d.short_message, d.tlvs) for d in delivers[1:]]
    assert all(d.esm_class & UDHI for d in delivers[1:])
    assert "".join(decode(p.payload, 0) for p in parts) == long_text
    assert [p.concat.sequence for p in parts if p.concat] == [1, 2]


async def test_mo_at_a_rate_goes_to_numbers_seen(autojump_clock: trio.testing.MockClock
                                                 ) -> None:
    sim = simulator(mo_rate=2.0, mo_text="STOP")
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(source="CAMP", destination="33611111111"))
            await esme.expect(SubmitSmResp)
            mo = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(mo.sequence_number))
            await wait_for(lambda: sim.stats()["smpp"]["mo_sent"] >= 1)
    assert (mo.source_addr, mo.destination_addr) == ("33611111111", "CAMP")
    assert decode(mo.short_message, mo.data_coding) == "STOP"


async def test_submit_sm_without_destination_is_invalid() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(SubmitSm(source_addr="X", short_message=b"hi"))
            response = await esme.expect(SubmitSmResp)
    assert response.command_status == Status.ESME_RINVDSTADR
    assert sim.stats()["accepted"] == 0 and sim.stats()["smpp"]["rejected_invalid"] == 1


async def test_server_unbind_waits_for_unbind_resp_then_closes() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            assert sim.smsc is not None
            await wait_for(lambda: bool(sim.smsc and sim.smsc.connections))
            assert sim.smsc.disconnect_all("unbind") == 1
            request = await esme.expect(Unbind)
            await esme.send(UnbindResp(request.sequence_number))
            events = await esme.until_closed()
    assert [type(e).__name__ for e in events] == ["ConnectionClosed"]


async def test_mo_for_a_system_id_waits_for_its_receiver() -> None:
    sim = simulator(accounts={"acme": "secret"})
    with trio.fail_after(10):
        async with running(sim) as run:
            unknown = await run.http.post("/mo", json={"from": "33612345678", "to": "CAMP",
                                                       "text": "STOP", "system_id": "ghost"})
            assert unknown.status_code == 400 and "ghost" in unknown.json()["error"]
            held = await run.http.post("/mo", json={"from": "33612345678", "to": "CAMP",
                                                    "text": "STOP", "system_id": "acme"})
            assert held.status_code == 202
            assert sim.stats()["smpp"]["mo_pending"] == 1
            async with bound(run.smpp_port,
                             BindReceiver(system_id="acme", password="secret")) as esme:
                mo = await esme.expect(DeliverSm)
                await esme.send(DeliverSmResp(mo.sequence_number))
                await wait_for(lambda: sim.stats()["smpp"]["mo_sent"] == 1)
    assert decode(mo.short_message, mo.data_coding) == "STOP"
    assert sim.stats()["smpp"]["mo_pending"] == 0
