"""Receipts posted to a callback served by dispatch.httpserver in the same test; time is
trio's MockClock (autojump), so delays and retry backoff take no real time."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import trio
import trio.testing

from dispatch.httpserver import Request, Response, json_response, serve_http
from dispatch.simulator import Simulator, SimulatorConfig


@dataclass
class Callback:
    """A receipt endpoint: answers `statuses` in turn (then 200), records what it got."""

    statuses: list[int] = field(default_factory=list)
    posts: list[list[dict[str, Any]]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    hits: int = 0
    expected: int = 0
    complete: trio.Event = field(default_factory=trio.Event)

    @property
    def receipts(self) -> list[dict[str, Any]]:
        return [receipt for post in self.posts for receipt in post]

    async def __call__(self, request: Request) -> Response:
        self.hits += 1
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.posts.append(json.loads(request.body))
            self.arrivals.append(trio.current_time())
            if len(self.receipts) >= self.expected:
                self.complete.set()
        return json_response({}, status)


@asynccontextmanager
async def gateway_and_callback(sim: Simulator, callback: Callback
                               ) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with trio.open_nursery() as nursery:
        callback_port = await nursery.start(serve_http, callback, "127.0.0.1", 0)
        port = await nursery.start(sim.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client, f"http://127.0.0.1:{callback_port}/receipts"
        nursery.cancel_scope.cancel()


def simulator(**knobs: Any) -> Simulator:
    return Simulator(SimulatorConfig(http_port=0, seed=3, **knobs))


def message(reference: str, callback_url: str | None) -> dict[str, Any]:
    return {"reference": reference, "to": "+33612345678", "from": "CAMPAIGN", "text": "Vote!",
            "callback_url": callback_url}


def batch(references: list[str], callback_url: str | None) -> dict[str, Any]:
    items = [{**message(ref, None), "idempotency_key": ref} for ref in references]
    return {"callback_url": callback_url, "messages": items}


async def send_single(client: httpx.AsyncClient, reference: str, url: str | None) -> str:
    reply = await client.post("/sms", json=message(reference, url),
                              headers={"Idempotency-Key": reference})
    assert reply.status_code == 200
    return str(reply.json()["id"])


async def test_receipts_reach_the_callback_with_ids_and_statuses(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(receipt_delay_ms=200, receipt_batch=2, outcomes={"rejected": 1.0})
    callback = Callback(expected=5)
    with trio.fail_after(30):
        async with gateway_and_callback(sim, callback) as (client, url):
            start = trio.current_time()
            ids = {ref: await send_single(client, ref, url) for ref in ("s1", "s2")}
            results = (await client.post("/sms/batch", json=batch(["b1", "b2", "b3"], url))
                       ).json()["results"]
            ids.update({r["reference"]: r["id"] for r in results})
            await send_single(client, "s1", url)  # a replay: no second receipt
            await send_single(client, "nocb", None)
            await callback.complete.wait()
            await sim.receipts.wait_idle()
    assert {r["reference"]: r["id"] for r in callback.receipts} == ids
    assert {(r["status"], r["error_code"]) for r in callback.receipts} == {("rejected", "003")}
    assert all(datetime.fromisoformat(r["done_at"]).utcoffset() is not None
               for r in callback.receipts)
    assert all(len(post) <= 2 for post in callback.posts)
    assert min(callback.arrivals) - start >= 0.2
    receipts = sim.stats()["receipts"]
    assert (receipts["sent"], receipts["pending"], receipts["skipped"]) == (5, 0, 1)


async def test_receipts_are_batched_per_callback_url(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(receipt_delay_ms=100)
    first, second = Callback(expected=50), Callback(expected=1)
    with trio.fail_after(30):
        async with gateway_and_callback(sim, first) as (client, url), \
                gateway_and_callback(simulator(), second) as (_, other_url):
            references = [f"m{i}" for i in range(50)]
            await client.post("/sms/batch", json=batch(references, url))
            await send_single(client, "x", other_url)
            await first.complete.wait()
            await second.complete.wait()
    assert len(first.posts) == 1 and len(first.receipts) == 50
    assert [r["reference"] for r in second.receipts] == ["x"]


async def test_a_refusing_callback_is_retried_until_it_accepts(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(receipt_delay_ms=0)
    callback = Callback(statuses=[500, 503], expected=1)
    with trio.fail_after(30):
        async with gateway_and_callback(sim, callback) as (client, url):
            await send_single(client, "r1", url)
            await callback.complete.wait()
    receipts = sim.stats()["receipts"]
    assert (receipts["sent"], receipts["failed"], receipts["post_failures"]) == (1, 0, 2)
    assert callback.hits == 3


async def test_a_failing_callback_is_given_up_after_the_last_attempt(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(receipt_delay_ms=0, receipt_attempts=4)
    callback = Callback(statuses=[500] * 100)
    with trio.fail_after(120):
        async with gateway_and_callback(sim, callback) as (client, url):
            start = trio.current_time()
            await client.post("/sms/batch", json=batch(["a", "b", "c"], url))
            await sim.receipts.wait_idle()
            elapsed = trio.current_time() - start
    receipts = sim.stats()["receipts"]
    assert (receipts["sent"], receipts["failed"], receipts["pending"]) == (0, 3, 0)
    assert callback.hits == 4
    assert elapsed >= 0.25 + 0.5 + 1.0  # doubling backoff between the attempts


async def test_an_unreachable_callback_counts_as_failed(
        autojump_clock: trio.testing.MockClock) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/receipts"
    sim = simulator(receipt_delay_ms=0, receipt_attempts=3)
    with trio.fail_after(120):
        async with gateway_and_callback(sim, Callback()) as (client, _):
            await send_single(client, "r1", dead_url)
            await sim.receipts.wait_idle()
    receipts = sim.stats()["receipts"]
    assert (receipts["failed"], receipts["posts"], receipts["post_failures"]) == (1, 3, 3)


async def test_stopping_flushes_pending_receipts_early(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(receipt_delay_ms=60_000)
    callback = Callback(expected=2)
    with trio.fail_after(30):
        async with gateway_and_callback(sim, callback) as (client, url):
            start = trio.current_time()
            await client.post("/sms/batch", json=batch(["a", "b"], url))
            await sim.stop_accepting(grace_s=2.0)
            assert trio.current_time() - start < 2.0
            assert callback.complete.is_set()
    assert sim.stats()["receipts"]["sent"] == 2
