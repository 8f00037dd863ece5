"""POST /mo: MO injected by hand, over HTTP to the daemon's /inbound when no SMSC can take
them (a small receiver served by dispatch.httpserver stands in for the daemon), over SMPP
when one can (the SMPP-only behaviour is in smsc/test_server.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trio

from dispatch.httpserver import Request, Response, json_response, serve_http
from dispatch.simulator import Simulator, SimulatorConfig
from dispatch.smpp import BindReceiver, DeliverSm, DeliverSmResp

from .smsc.smpp_peer import bound, wait_for

LINE = "36111"
STOP = {"from": "+33612345678", "to": LINE, "text": "STOP"}


@dataclass
class Daemon:
    """The daemon's inbound port: what came to /inbound, and the receipts."""

    inbound: list[dict[str, Any]] = field(default_factory=list)
    receipts: int = 0

    async def __call__(self, request: Request) -> Response:
        body = json.loads(request.body)
        if request.path == "/inbound":
            self.inbound.extend(body)
        else:
            self.receipts += len(body)
        return json_response({"recorded": len(body)})


@dataclass
class Run:
    sim: Simulator
    client: httpx.AsyncClient
    daemon: Daemon
    daemon_url: str
    sent: int = 0

    async def mo(self, body: Any) -> httpx.Response:
        return await self.client.post("/mo", json=body)

    async def send(self, number: str, *, callback: bool = True) -> None:
        """The daemon sends one message from LINE to `number`."""
        self.sent += 1
        message = {"reference": f"m{self.sent}", "to": number, "from": LINE, "text": "Vote!",
                   "idempotency_key": None}
        body = {"callback_url": f"{self.daemon_url}/receipts" if callback else None,
                "messages": [message]}
        reply = await self.client.post("/sms/batch", json=body)
        assert "id" in reply.json()["results"][0]


@asynccontextmanager
async def running(*, mo_url_here: bool = False, **knobs: Any) -> AsyncIterator[Run]:
    daemon = Daemon()
    knobs = {"http_port": 0, "seed": 3, "outcomes": {"delivered": 1.0},
             "receipt_delay_ms": 10, **knobs}
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_http, daemon, "127.0.0.1", 0)
        daemon_url = f"http://127.0.0.1:{port}"
        if mo_url_here:
            knobs["mo_url"] = f"{daemon_url}/inbound"
        sim = Simulator(SimulatorConfig(**knobs))
        sim_port = await nursery.start(sim.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim_port}") as client:
            yield Run(sim, client, daemon, daemon_url)
        nursery.cancel_scope.cancel()


async def test_without_an_smsc_the_mo_is_posted_to_the_inbound_url() -> None:
    hello = {"from": "+33612345679", "to": LINE, "text": "Bonjour"}
    with trio.fail_after(10):
        async with running(mo_url_here=True) as run:
            reply = await run.mo([STOP, hello])
            await wait_for(lambda: run.sim.stats()["mo_http"]["acknowledged"] == 2)
            assert run.sim.stats()["sent_after_stop"] == 0
            await run.send("+33612345678")  # after the acknowledged STOP: counted
            await run.send("+33612345679")  # not an opt-out: not counted
            stats = run.sim.stats()
    assert reply.status_code == 202
    assert reply.json() == {"messages": 2, "url": f"{run.daemon_url}/inbound"}
    assert run.daemon.inbound == [STOP, hello]
    assert stats["mo_http"] == {"queued": 2, "acknowledged": 2, "failed": 0, "pending": 0}
    assert (stats["stops_acknowledged"], stats["sent_after_stop"]) == (1, 1)
    assert stats["replies"]["decided"] == 0  # injected, not replies


async def test_the_url_is_learned_from_a_message_callback_and_409_before() -> None:
    with trio.fail_after(10):
        async with running() as run:
            before = await run.mo(STOP)
            await run.send("+33600000001", callback=False)  # no callback: still unknown
            still = await run.mo(STOP)
            await run.send("+33600000002")
            after = await run.mo(STOP)
            await wait_for(lambda: len(run.daemon.inbound) == 1)
    for refused in (before, still):
        assert refused.status_code == 409
        assert refused.json()["error"].startswith("no MO URL known: start the simulator "
                                                  "with --mo-url")
    assert after.status_code == 202 and after.json()["url"] == f"{run.daemon_url}/inbound"
    assert run.daemon.inbound == [STOP]
    assert run.sim.stats()["mo_http"]["queued"] == 1


@pytest.mark.parametrize(("body", "error"), [
    ({"from": "+33612345678", "to": LINE}, "message 0: 'text' must be a string"),
    ([STOP, {"from": "", "to": LINE, "text": "STOP"}], "message 1: 'from' must be an address"),
    ([STOP, {**STOP, "to": "x" * 21}], "message 1: 'to' must be an address"),
    ({**STOP, "system_id": "acme"}, "message 0: 'system_id' is for the SMSC, which is not "
                                    "running (--smpp-port)"),
    ([], "give 1..1000 messages, got 0"),
    ("STOP", "message 0: must be a JSON object"),
])
async def test_a_bad_body_is_400_naming_the_item_and_field(body: Any, error: str) -> None:
    with trio.fail_after(10):
        async with running(mo_url_here=True) as run:
            reply = await run.mo(body)
    assert reply.status_code == 400 and reply.json()["error"].startswith(error)
    assert run.daemon.inbound == [] and run.sim.stats()["mo_http"]["queued"] == 0


async def test_not_json_is_400() -> None:
    with trio.fail_after(10):
        async with running(mo_url_here=True) as run:
            reply = await run.client.post("/mo", content=b"{STOP")
    assert reply.status_code == 400 and "error" in reply.json()


async def test_with_an_smsc_smpp_when_a_receiver_is_bound_else_http() -> None:
    with trio.fail_after(10):
        async with running(mo_url_here=True, smpp_port=0) as run:
            assert run.sim.smpp_port is not None
            unbound = await run.mo(STOP)  # no receiver, a URL: over HTTP
            await wait_for(lambda: len(run.daemon.inbound) == 1)
            mixed = await run.mo([STOP, {**STOP, "system_id": "acme"}])
            async with bound(run.sim.smpp_port, BindReceiver(system_id="acme")) as esme:
                smpp = await run.mo({**STOP, "from": "+33612345670"})
                deliver = await esme.expect(DeliverSm)
                await esme.send(DeliverSmResp(deliver.sequence_number))
                await wait_for(lambda: run.sim.stats()["smpp"]["mo_sent"] == 1)
    assert unbound.status_code == 202 and unbound.json()["url"] == f"{run.daemon_url}/inbound"
    assert run.daemon.inbound == [STOP]
    assert mixed.status_code == 409 and "system_id" in mixed.json()["error"]
    assert smpp.status_code == 202 and smpp.json() == {"messages": 1, "parts": 1}
    assert deliver.source_addr == "33612345670" and deliver.destination_addr == LINE


async def test_with_an_smsc_and_no_url_the_409_names_both() -> None:
    with trio.fail_after(10):
        async with running(smpp_port=0) as run:
            reply = await run.mo(STOP)
    assert reply.status_code == 409
    assert reply.json()["error"] == (
        "no SMPP receiver is bound: give every message a system_id to hold it until one "
        "binds; no MO URL known: start the simulator with --mo-url, or let the daemon "
        "send a message with a callback URL first")
