"""Faults switched on while the simulator runs (POST /faults): a throttling share and an
answer stall for a set time, over SMPP and HTTP, then gone."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from dispatch.simulator.live_faults import LiveFaults
from dispatch.smpp import Status, SubmitSmResp

from .http.test_gateway import message, running, simulator
from .smsc.smpp_peer import bound, submit
from .smsc.smpp_peer import running as smpp_running
from .smsc.smpp_peer import simulator as smpp_simulator


def test_live_faults_last_their_time_only() -> None:
    live = LiveFaults()
    assert (live.throttle_share(0.0), live.stall_s(0.0)) == (0.0, 0.0)
    live.start_throttle(0.3, 20.0, now=100.0)
    live.start_stall(5.0, now=100.0)
    assert (live.throttle_share(119.9), live.stall_s(101.0)) == (0.3, 4.0)
    assert (live.throttle_share(120.0), live.stall_s(105.0)) == (0.0, 0.0)


async def test_http_throttle_then_back_to_normal(autojump_clock: trio.testing.MockClock
                                                 ) -> None:
    sim = simulator()
    with trio.fail_after(100):
        async with running(sim) as client:
            set_on = await client.post("/faults", json={"throttle": 1.0, "for_s": 10})
            during = await client.post("/sms", json=message("r1"))
            await trio.sleep(10)
            after = await client.post("/sms", json=message("r1"))
    assert set_on.json() == {"throttle": 1.0, "throttle_left_s": 10.0, "stall_left_s": 0.0}
    assert (during.status_code, after.status_code) == (429, 200)
    assert sim.stats()["faults"]["429"] == 1


async def test_http_stall_holds_answers_until_it_ends(autojump_clock: trio.testing.MockClock
                                                      ) -> None:
    sim = simulator()
    with trio.fail_after(100):
        async with running(sim) as client:
            await client.post("/faults", json={"stall_s": 5})
            await trio.sleep(1)
            started = trio.current_time()
            reply = await client.post("/sms", json=message("r1"))
            held = trio.current_time() - started
    assert reply.status_code == 200 and 3.9 <= held <= 4.5


@pytest.mark.parametrize(("body", "error"), [
    ({}, "give 'throttle'"),
    ({"throttle": 1.5, "for_s": 1}, "'throttle' must be a number from 0 to 1"),
    ({"throttle": 0.5}, "'for_s' must be a number"),
    ({"stall_s": "5"}, "'stall_s' must be a number"),
    ({"stall": 5}, "unknown field 'stall'"),
    ([1], "must be a JSON object"),
])
async def test_bad_fault_requests_are_refused_by_name(body: object, error: str) -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as client:
            reply = await client.post("/faults", json=body)
    assert reply.status_code == 400 and error in reply.json()["error"]


async def test_smpp_throttle_and_stall_then_normal(autojump_clock: trio.testing.MockClock
                                                   ) -> None:
    sim = smpp_simulator()
    with trio.fail_after(100):
        async with smpp_running(sim) as run, bound(run.smpp_port) as esme:
            await run.http.post("/faults", json={"throttle": 1.0, "for_s": 2})
            await esme.send(submit(reference="a"))
            throttled = await esme.expect(SubmitSmResp)
            await trio.sleep(2)
            await run.http.post("/faults", json={"stall_s": 5})
            await trio.sleep(2)
            sent = trio.current_time()
            await esme.send(submit(reference="b"))
            stalled = await esme.expect(SubmitSmResp)
            held = trio.current_time() - sent
            await esme.send(submit(reference="c"))
            normal = await esme.expect(SubmitSmResp)
    assert throttled.command_status == Status.ESME_RTHROTTLED
    assert stalled.command_status == 0 and 2.9 <= held <= 3.5
    assert normal.command_status == 0
    assert sim.stats()["line_violations"] == 0
