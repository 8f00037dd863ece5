"""The SMSC's faults and limits over TCP: window, line and bind rates, random throttling,
injected errors, never-responding, server-initiated unbind and close (every accepted
request answered first), receipts resent until acknowledged."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.testing

from dispatch.smpp import (
    ConnectionClosed,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    Status,
    SubmitSmResp,
    Tag,
    Unbind,
    UnbindResp,
)

from .smpp_peer import Esme, bound, running, simulator, submit, wait_for


def statuses(events: Sequence[object]) -> list[int]:
    return [e.command_status for e in events if isinstance(e, SubmitSmResp)]


async def test_window_exceeded_gets_queue_full(autojump_clock: trio.testing.MockClock
                                               ) -> None:
    sim = simulator(smpp_window=5, smpp_latency_ms=1000)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(8)])
            events = await esme.events_until(lambda events: len(events) == 8)
            # Answered: the window has room again.
            await esme.send(submit(reference="late"))
            late = await esme.expect(SubmitSmResp)
    # ESME_RMSGQFUL is answered at once, the accepted ones after the latency.
    assert statuses(events) == [Status.ESME_RMSGQFUL] * 3 + [0] * 5
    assert late.command_status == 0
    stats = sim.stats()
    assert (stats["smpp"]["queue_full"], stats["accepted"]) == (3, 6)


async def test_line_rate_throttles_and_counts_violations(autojump_clock: trio.testing.MockClock
                                                         ) -> None:
    sim = simulator(line_rate=10.0, line_burst=2.0)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(source="LINE1", reference=f"a{i}") for i in range(5)],
                            submit(source="LINE2", reference="b"))
            burst = statuses(await esme.events_until(lambda events: len(events) == 6))
            await trio.sleep(0.1)  # one more token for LINE1
            await esme.send(submit(source="LINE1", reference="a-later"))
            later = await esme.expect(SubmitSmResp)
    assert sorted(burst) == [0, 0, 0] + [Status.ESME_RTHROTTLED] * 3
    assert later.command_status == 0
    stats = sim.stats()
    assert stats["line_violations"] == 3 and stats["smpp"]["throttled"] == 3
    assert stats["accepted"] == 4


async def test_bind_rate_throttles_without_line_violations(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(smpp_bind_rate=3.0)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(source=f"L{i}", reference=f"m{i}") for i in range(5)])
            events = await esme.events_until(lambda events: len(events) == 5)
    assert sorted(statuses(events)) == [0, 0, 0, Status.ESME_RTHROTTLED, Status.ESME_RTHROTTLED]
    stats = sim.stats()
    assert stats["line_violations"] == 0 and stats["smpp"]["throttled"] == 2


async def test_throttle_rate_is_not_a_line_violation() -> None:
    sim = simulator(throttle_rate=1.0, line_rate=1000.0)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(10)])
            events = await esme.events_until(lambda events: len(events) == 10)
    assert statuses(events) == [Status.ESME_RTHROTTLED] * 10
    stats = sim.stats()
    assert (stats["smpp"]["throttled"], stats["line_violations"], stats["accepted"]) == (10, 0, 0)


async def test_throttle_rate_is_a_probability() -> None:
    sim = simulator(throttle_rate=0.3, smpp_window=1000)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(400)])
            events = await esme.events_until(lambda events: len(events) == 400)
    throttled = statuses(events).count(Status.ESME_RTHROTTLED)
    assert 80 <= throttled <= 160  # 120 expected; seeded, so deterministic anyway
    assert sim.stats()["accepted"] == 400 - throttled


async def test_error_injection_with_a_chosen_status() -> None:
    sim = simulator(smpp_error=1.0, smpp_error_status=0x45)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(), submit(b"two"))
            events = await esme.events_until(lambda events: len(events) == 2)
    assert statuses(events) == [Status.ESME_RSUBMITFAIL] * 2
    stats = sim.stats()
    assert (stats["smpp"]["errors_injected"], stats["accepted"]) == (2, 0)


async def test_no_response_ignores_the_request_and_accepts_nothing() -> None:
    sim = simulator(no_response=1.0)
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(reference="lost"), EnquireLink())
            # The enquire_link is answered; the submit_sm never is.
            assert isinstance(await esme.event(), EnquireLinkResp)
    stats = sim.stats()
    assert (stats["smpp"]["no_response"], stats["accepted"]) == (1, 0)
    assert not sim.ledger.is_accepted("lost")


async def test_server_close_answers_every_request_read_first(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(smpp_latency_ms=500)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(*[submit(reference=f"m{i}") for i in range(20)])
            await wait_for(lambda: sim.stats()["smpp"]["submit_sm"] == 20)
            reply = await run.http.post("/disconnect", json={"mode": "close"})
            assert reply.json() == {"connections": 1, "mode": "close"}
            events = await esme.until_closed()
    assert statuses(events) == [0] * 20
    assert isinstance(events[-1], ConnectionClosed)
    assert trio.current_time() < 0.5  # held-back responses went out at once
    stats = sim.stats()
    assert (stats["accepted"], stats["smpp"]["disconnects"]) == (20, 1)


async def test_server_unbind_answers_requests_until_unbind_resp() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            reply = await run.http.post("/disconnect", json={"mode": "unbind"})
            assert reply.json()["connections"] == 1
            unbind = await esme.expect(Unbind)
            await esme.send(submit(reference="in-between"), UnbindResp(unbind.sequence_number))
            events = await esme.until_closed()
    assert [type(e).__name__ for e in events] == ["SubmitSmResp", "ConnectionClosed"]
    assert sim.ledger.is_accepted("in-between")


async def test_disconnect_after_n_accepted_leaves_no_fate_unknown() -> None:
    sim = simulator(disconnect_after=5)
    with trio.fail_after(10):
        async with running(sim) as run:
            async with bound(run.smpp_port) as esme:
                await esme.send(*[submit(reference=f"m{i}") for i in range(12)])
                events = await esme.until_closed()
            accepted = [e for e in events if isinstance(e, SubmitSmResp)
                        and e.command_status == 0]
            # Reconnecting works, and is not closed again.
            async with bound(run.smpp_port) as again:
                await again.send(*[submit(reference=f"n{i}") for i in range(10)])
                later = await again.events_until(lambda events: len(events) == 10)
    assert len(accepted) >= 5
    assert sim.stats()["accepted"] == len(accepted) + 10
    assert statuses(later) == [0] * 10
    assert sim.stats()["smpp"]["disconnects"] == 1


async def test_bad_disconnect_mode_is_a_400() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run:
            reply = await run.http.post("/disconnect", json={"mode": "explode"})
            empty = await run.http.post("/disconnect")
    assert reply.status_code == 400 and "'mode'" in reply.json()["error"]
    assert empty.json() == {"connections": 0, "mode": "close"}


async def test_receipt_without_response_is_resent(autojump_clock: trio.testing.MockClock
                                                  ) -> None:
    sim = simulator(smpp_receipt_timeout_s=5)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(registered_delivery=1))
            response = await esme.expect(SubmitSmResp)
            first = await esme.expect(DeliverSm)  # left unanswered
            second = await esme.expect(DeliverSm)
            assert trio.current_time() >= 5
            await esme.send(DeliverSmResp(second.sequence_number, Status.ESME_RX_T_APPN))
            third = await esme.expect(DeliverSm)
            await esme.send(DeliverSmResp(third.sequence_number))
            await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
    assert len({first.sequence_number, second.sequence_number, third.sequence_number}) == 3
    assert {d.tlvs[Tag.RECEIPTED_MESSAGE_ID] for d in (first, second, third)} == {
        response.message_id}
    smpp = sim.stats()["smpp"]
    assert (smpp["receipts_resent"], smpp["receipts_pending"], smpp["receipts_failed"]) == (
        2, 0, 0)


async def test_receipt_given_up_after_the_last_attempt_is_counted(
        autojump_clock: trio.testing.MockClock) -> None:
    sim = simulator(smpp_receipt_timeout_s=1, smpp_receipt_attempts=3)
    with trio.fail_after(100):
        async with running(sim) as run, bound(run.smpp_port) as esme:
            await esme.send(submit(registered_delivery=1))
            await esme.expect(SubmitSmResp)
            for _ in range(3):
                await esme.expect(DeliverSm)
            await wait_for(lambda: sim.stats()["smpp"]["receipts_failed"] == 1)
    smpp = sim.stats()["smpp"]
    assert (smpp["receipts_sent"], smpp["receipts_pending"]) == (0, 0)


async def test_receipts_unacknowledged_at_close_go_to_the_next_receiver() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run:
            async with bound(run.smpp_port) as esme:
                await esme.send(submit(registered_delivery=1))
                await esme.expect(SubmitSmResp)
                lost = await esme.expect(DeliverSm)
            async with bound(run.smpp_port) as again:
                found = await again.expect(DeliverSm)
                await again.send(DeliverSmResp(found.sequence_number))
                await wait_for(lambda: sim.stats()["smpp"]["receipts_sent"] == 1)
    assert found.tlvs[Tag.RECEIPTED_MESSAGE_ID] == lost.tlvs[Tag.RECEIPTED_MESSAGE_ID]


async def test_connections_are_counted() -> None:
    sim = simulator()
    with trio.fail_after(10):
        async with running(sim) as run:
            first, second = await Esme.connect(run.smpp_port), await Esme.connect(run.smpp_port)
            await wait_for(lambda: sim.stats()["smpp"]["connections"] == 2)
            await first.aclose()
            await second.aclose()
            await wait_for(lambda: sim.stats()["smpp"]["connections"] == 0)
