"""The simulator over real HTTP: a server on port 0, httpx.AsyncClient as the daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from dispatch.simulator import Simulator, SimulatorConfig, serve_simulator


def message(reference: str, **changes: Any) -> dict[str, Any]:
    body = {"reference": reference, "to": "+33612345678", "from": "CAMPAIGN",
            "text": "Vote!", "callback_url": None}
    body.update(changes)
    return body


def batch_item(reference: str, **changes: Any) -> dict[str, Any]:
    item = {k: v for k, v in message(reference).items() if k != "callback_url"}
    item["idempotency_key"] = reference
    item.update(changes)
    return item


@asynccontextmanager
async def running(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with trio.open_nursery() as nursery:
        port = await nursery.start(simulator.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
        nursery.cancel_scope.cancel()


def simulator(**knobs: Any) -> Simulator:
    return Simulator(SimulatorConfig(http_port=0, seed=1, **knobs))


async def test_single_message_is_accepted() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/sms", json=message("r1"), headers={"Idempotency-Key": "r1"})
            assert reply.status_code == 200
            body = reply.json()
            assert body["reference"] == "r1" and isinstance(body["id"], str) and body["id"]
            stats = (await client.get("/stats")).json()
    assert (stats["accepted"], stats["submissions"], stats["duplicates"]) == (1, 1, 0)
    assert stats["receipts"] == {"sent": 0, "pending": 0, "failed": 0, "skipped": 1,
                                 "posts": 0, "post_failures": 0}
    assert sum(stats["outcomes"].values()) == 1


async def test_stats_have_the_documented_shape() -> None:
    with trio.fail_after(10):
        async with running(simulator()) as client:
            stats = (await client.get("/stats")).json()
    assert {"accepted", "duplicates", "replays", "submissions", "rejected_invalid", "faults",
            "receipts", "outcomes"} <= set(stats)
    assert {"429", "500", "lost_response"} <= set(stats["faults"])
    assert {"sent", "pending", "failed", "skipped"} <= set(stats["receipts"])
    assert set(stats["outcomes"]) == {"delivered", "undeliverable", "expired", "rejected"}


async def test_health_unknown_path_and_wrong_method() -> None:
    with trio.fail_after(10):
        async with running(simulator()) as client:
            assert (await client.get("/healthz")).json() == {"ok": True}
            missing = await client.get("/nope")
            assert missing.status_code == 404 and "error" in missing.json()
            wrong = await client.get("/sms")
            assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
            assert (await client.post("/stats")).status_code == 405


@pytest.mark.parametrize(("content", "reason"), [
    (b"{not json", "not valid JSON"),
    (b'{"reference": "r1"}', "'to' must be a string"),
    (b'{"reference": "r1", "to": "+33612345678", "from": "X", "text": 5}',
     "'text' must be a string"),
    (b'{"reference": "r1", "to": "0612345678", "from": "X", "text": "t"}', "'to' must be"),
    (b'{"reference": "r1", "to": "+33612345678", "from": "X", "text": ""}',
     "'text' must not be empty"),
])
async def test_invalid_single_bodies_get_400(content: bytes, reason: str) -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/sms", content=content)
            assert reply.status_code == 400
            assert reason in reply.json()["error"]
            assert (await client.post("/sms", json=message("ok"))).status_code == 200
    stats = sim.stats()
    assert (stats["rejected_invalid"], stats["accepted"]) == (1, 1)


async def test_idempotent_replay_returns_the_same_id() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            key = {"Idempotency-Key": "r1"}
            first = (await client.post("/sms", json=message("r1"), headers=key)).json()
            again = (await client.post("/sms", json=message("r1"), headers=key)).json()
            other = (await client.post("/sms", json=message("r1"),
                                       headers={"Idempotency-Key": "k2"})).json()
            unkeyed = (await client.post("/sms", json=message("r1"))).json()
    assert again == first
    assert len({first["id"], other["id"], unkeyed["id"]}) == 3
    stats = sim.stats()
    assert (stats["accepted"], stats["replays"], stats["duplicates"]) == (1, 1, 2)
    assert stats["submissions"] == 4


async def test_batch_results_in_order_with_per_message_errors() -> None:
    sim = simulator()
    items = [batch_item("a"), batch_item("b", to="12345"), "junk", batch_item("c"),
             batch_item("d", idempotency_key=None)]
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/sms/batch", json={"callback_url": None, "messages": items})
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [r["reference"] for r in results] == ["a", "b", None, "c", "d"]
    assert [("id" in r) for r in results] == [True, False, False, True, True]
    assert results[1]["permanent"] is True and "'to'" in results[1]["error"]
    assert results[2]["permanent"] is True
    assert len({r["id"] for r in results if "id" in r}) == 3
    stats = sim.stats()
    assert (stats["accepted"], stats["rejected_invalid"], stats["submissions"]) == (3, 2, 5)


async def test_batch_replays_by_idempotency_key_also_across_endpoints() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            single = (await client.post("/sms", json=message("a"),
                                        headers={"Idempotency-Key": "a"})).json()
            body = {"callback_url": None, "messages": [batch_item("a"), batch_item("b")]}
            first = (await client.post("/sms/batch", json=body)).json()["results"]
            again = (await client.post("/sms/batch", json=body)).json()["results"]
    assert first[0]["id"] == single["id"]
    assert again == first
    stats = sim.stats()
    assert (stats["accepted"], stats["replays"], stats["duplicates"]) == (2, 3, 0)


@pytest.mark.parametrize("body", [
    b"[]", b"{", b'{"messages": []}', b'{"messages": {"reference": "a"}}',
    b'{"messages": [{}], "callback_url": 5}',
])
async def test_malformed_batch_gets_400(body: bytes) -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/sms/batch", content=body)
    assert reply.status_code == 400 and reply.json()["error"]
    assert sim.stats()["accepted"] == 0


async def test_lost_response_then_retry_is_a_replay_not_a_duplicate() -> None:
    sim = simulator(lost_response=1.0)
    with trio.fail_after(10):
        async with running(sim) as client:
            for _ in range(2):
                reply = await client.post("/sms", json=message("r1"),
                                          headers={"Idempotency-Key": "r1"})
                assert reply.status_code == 504
            body = {"callback_url": None, "messages": [batch_item("r2")]}
            assert (await client.post("/sms/batch", json=body)).status_code == 504
            assert (await client.post("/sms/batch", json=body)).status_code == 504
    stats = sim.stats()
    assert (stats["accepted"], stats["replays"], stats["duplicates"]) == (2, 2, 0)
    assert stats["faults"]["lost_response"] == 4
    assert sim.ledger.is_accepted("r1") and sim.ledger.is_accepted("r2")


async def test_throttling_at_probability_one() -> None:
    sim = simulator(error_429=1.0)
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/sms", json=message("r1"))
            batch = await client.post("/sms/batch", json={"messages": [batch_item("a")]})
            health = await client.get("/healthz")
    assert reply.status_code == batch.status_code == 429
    assert reply.json() == {"error": "throttled"} and reply.headers["retry-after"] == "1"
    assert health.status_code == 200
    stats = sim.stats()
    assert (stats["faults"]["429"], stats["accepted"], stats["submissions"]) == (2, 0, 0)


async def test_server_errors_at_probability_one() -> None:
    sim = simulator(error_5xx=1.0)
    with trio.fail_after(10):
        async with running(sim) as client:
            replies = [await client.post("/sms", json=message(f"r{i}")) for i in range(20)]
    assert {reply.status_code for reply in replies} <= {500, 502, 503}
    assert all("error" in reply.json() for reply in replies)
    stats = sim.stats()
    assert stats["faults"]["500"] == 20 and stats["accepted"] == 0
    assert sum(stats["faults"]["5xx_by_status"].values()) == 20


async def test_latency_delays_responses(autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(latency_ms=500)
    with trio.fail_after(10):
        async with running(sim) as client:
            start = trio.current_time()
            assert (await client.post("/sms", json=message("r1"))).status_code == 200
            assert trio.current_time() - start >= 0.5


async def test_serve_simulator_reports_its_port() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_simulator, SimulatorConfig(http_port=0))
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert reply.json() == {"ok": True}
            nursery.cancel_scope.cancel()


async def test_lines_over_their_rate_are_counted_not_refused(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(line_rate=10.0, line_burst=2.0)
    with trio.fail_after(100):
        async with running(sim) as client:
            items = [batch_item(f"a{i}", **{"from": "+33700000001"}) for i in range(5)]
            items.append(batch_item("b", **{"from": "+33700000002"}))
            burst = await client.post("/sms/batch", json={"messages": items})
            await trio.sleep(0.1)  # one more token for the first line
            later = await client.post("/sms", json=message("a-later", **{"from": "+33700000001"}))
    assert burst.status_code == 200 and later.status_code == 200
    stats = sim.stats()
    assert (stats["accepted"], stats["line_violations"]) == (7, 3)
