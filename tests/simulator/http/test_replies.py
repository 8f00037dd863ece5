"""Replies over HTTP: the simulator posts them to a webhook served by dispatch.httpserver in
the test (receipts on /receipts, replies on /inbound); time is trio's MockClock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio
import trio.testing

from dispatch.httpserver import Request, Response, json_response, serve_http
from dispatch.simulator import Simulator, SimulatorConfig
from dispatch.simulator.replies import ReplyDecider

LINE = "CAMPAIGN"


@dataclass
class Webhook:
    """The daemon's side: /receipts and /inbound. `statuses` answer /inbound in turn."""

    statuses: list[int] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    receipts: dict[str, float] = field(default_factory=dict)  # reference -> arrival
    reply_times: dict[str, float] = field(default_factory=dict)  # number -> arrival
    inbound_hits: int = 0
    changed: trio.Event = field(default_factory=trio.Event)

    async def __call__(self, request: Request) -> Response:
        body = json.loads(request.body)
        now = trio.current_time()
        if request.path == "/receipts":
            self.receipts.update({receipt["reference"]: now for receipt in body})
        else:
            assert request.path == "/inbound"
            self.inbound_hits += 1
            status = self.statuses.pop(0) if self.statuses else 200
            if status != 200:
                return json_response({"error": "later"}, status)
            self.replies.extend(body)
            self.reply_times.update({reply["from"]: now for reply in body})
        self.changed.set()
        self.changed = trio.Event()
        return json_response({"recorded": len(body)})

    async def wait(self, replies: int) -> None:
        while len(self.replies) < replies:
            await self.changed.wait()


@dataclass
class Setup:
    sim: Simulator
    client: httpx.AsyncClient
    webhook: Webhook
    callback_url: str
    sent: int = 0  # messages sent so far: each gets its own reference

    async def send(self, *numbers: str, line: str = LINE, callback: bool = True) -> None:
        messages = [{"reference": f"{line}-{number}-{self._next()}", "to": number,
                     "from": line, "text": "Vote!", "idempotency_key": None}
                    for number in numbers]
        body = {"callback_url": self.callback_url if callback else None, "messages": messages}
        reply = await self.client.post("/sms/batch", json=body)
        assert reply.status_code == 200 and all("id" in r for r in reply.json()["results"])

    def _next(self) -> int:
        self.sent += 1
        return self.sent

    async def settle(self) -> None:
        """Until every receipt and reply is acknowledged or given up."""
        while self.sim.replies.stats()["replies"]["pending"] or \
                self.sim.receipts.counters.pending:
            await trio.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        return self.sim.stats()


@asynccontextmanager
async def running(webhook: Webhook, *, mo_url_here: bool = False, **knobs: Any
                  ) -> AsyncIterator[Setup]:
    """A simulator and the webhook; `mo_url_here`: --mo-url names the webhook's /inbound."""
    knobs = {"http_port": 0, "seed": 5, "outcomes": {"delivered": 1.0},
             "receipt_delay_ms": 100, "reply_share": 1.0, **knobs}
    async with trio.open_nursery() as nursery:
        hook_port = await nursery.start(serve_http, webhook, "127.0.0.1", 0)
        if mo_url_here:
            knobs["mo_url"] = f"http://127.0.0.1:{hook_port}/inbound"
        sim = Simulator(SimulatorConfig(**knobs))
        port = await nursery.start(sim.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield Setup(sim, client, webhook, f"http://127.0.0.1:{hook_port}/receipts")
        nursery.cancel_scope.cancel()


async def test_replies_follow_receipts_and_reach_the_inbound_webhook(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook()
    numbers = ["+33600000001", "+33600000002", "+33600000003"]
    with trio.fail_after(30):
        async with running(webhook, reply_delay_ms=300) as run:
            await run.send(*numbers)
            await webhook.wait(3)
            await run.settle()
    assert sorted(webhook.replies, key=lambda r: r["from"]) == [
        {"from": number, "to": LINE, "text": "STOP"} for number in numbers]
    for number in numbers:
        receipt_time = next(t for ref, t in webhook.receipts.items() if number in ref)
        assert webhook.reply_times[number] - receipt_time >= 0.3
    assert run.stats()["replies"] == {"decided": 3, "sent": 3, "acknowledged": 3,
                                      "failed": 0, "pending": 0}


async def test_only_a_message_accepted_after_the_acknowledged_stop_counts(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook()
    with trio.fail_after(30):
        async with running(webhook, reply_delay_ms=1000) as run:
            await run.send("+33600000001")
            await run.send("+33600000001")  # before the STOP: fine, and no second reply
            await run.send("+33600000001", line="OTHERLINE")  # another line: its own reply
            await webhook.wait(2)
            await run.settle()
            assert run.stats()["sent_after_stop"] == 0
            await run.send("+33600000001")  # after the STOP was acknowledged: counted
            await run.send("+33600000002")  # someone else: not counted
            await run.send("+33600000001", line="OTHERLINE")  # its own STOP: counted too
            await run.settle()
    stats = run.stats()
    assert stats["sent_after_stop"] == 2
    assert stats["stops_acknowledged"] == 3  # the newcomer's STOP came after its message
    assert sorted(r["to"] for r in webhook.replies if r["from"] == "+33600000001") == [
        LINE, "OTHERLINE"]
    assert stats["replies"]["decided"] == 3  # the later newcomer replies too


async def test_the_same_numbers_reply_as_the_decider_says(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook()
    numbers = [f"+336{20_000_000 + i:08d}" for i in range(400)]
    with trio.fail_after(60):
        async with running(webhook, reply_share=0.2, receipt_batch=50) as run:
            await run.send(*numbers)
            await run.settle()
    expected = {n for n in numbers if ReplyDecider(0.2, seed=5).replies(n)}
    assert {reply["from"] for reply in webhook.replies} == expected
    assert 40 < len(expected) < 120
    assert run.stats()["replies"]["acknowledged"] == len(expected) == len(webhook.replies)


async def test_a_refusing_webhook_is_retried_then_given_up(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook(statuses=[503, 500])
    with trio.fail_after(60):
        async with running(webhook, receipt_attempts=4) as run:
            await run.send("+33600000001")
            await run.settle()
            assert run.stats()["replies"]["acknowledged"] == 1 and webhook.inbound_hits == 3
            webhook.statuses = [500] * 20
            await run.send("+33600000002")
            await run.settle()
            await run.send("+33600000002")  # its STOP never got through: not counted
    stats = run.stats()
    assert stats["replies"] == {"decided": 2, "sent": 2, "acknowledged": 1, "failed": 1,
                                "pending": 0}
    assert webhook.inbound_hits == 3 + 4  # receipt_attempts
    assert stats["sent_after_stop"] == 0


async def test_without_a_callback_the_reply_needs_mo_url(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook()
    with trio.fail_after(30):
        async with running(webhook) as run:
            await run.send("+33600000001", callback=False)  # nowhere to reply: failed
            await run.settle()
    assert run.stats()["replies"]["failed"] == 1 and not webhook.replies
    webhook = Webhook()
    with trio.fail_after(30):
        async with running(webhook, mo_url_here=True) as run:
            await run.send("+33600000001", callback=False)
            await webhook.wait(1)
    assert webhook.replies == [{"from": "+33600000001", "to": LINE, "text": "STOP"}]


async def test_a_reply_that_is_not_an_opt_out_is_not_a_stop(
        autojump_clock: trio.testing.MockClock) -> None:
    webhook = Webhook()
    with trio.fail_after(30):
        async with running(webhook, reply_text="Merci !") as run:
            await run.send("+33600000001")
            await run.settle()
            await run.send("+33600000001")
    assert webhook.replies[0]["text"] == "Merci !"
    assert run.stats()["sent_after_stop"] == 0 and run.stats()["stops_acknowledged"] == 0


async def test_undelivered_messages_get_no_reply(autojump_clock: trio.testing.MockClock
                                                 ) -> None:
    webhook = Webhook()
    with trio.fail_after(30):
        async with running(webhook, outcomes={"undeliverable": 1.0}) as run:
            await run.send("+33600000001", "+33600000002")
            await run.settle()
    assert len(webhook.receipts) == 2 and not webhook.replies
    assert run.stats()["replies"]["decided"] == 0


async def test_stats_show_replies_even_when_nobody_replies() -> None:
    with trio.fail_after(10):
        async with running(Webhook(), reply_share=0.0) as run:
            stats = (await run.client.get("/stats")).json()
    assert stats["replies"] == {"decided": 0, "sent": 0, "acknowledged": 0, "failed": 0,
                                "pending": 0}
    assert (stats["sent_after_stop"], stats["stops_acknowledged"],
            stats["sent_after_stop_max_ms"]) == (0, 0, 0.0)
