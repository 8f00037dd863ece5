from __future__ import annotations

import trio
import trio.testing

from dispatch.daemon.outbound.inflight import InFlightNumbers


async def test_a_stop_waits_for_the_submission_under_way_to_that_number(
        autojump_clock: trio.testing.MockClock) -> None:
    submitting = InFlightNumbers()
    submitting.enter(["+1", "+2", "+1"])
    cleared_at: list[float] = []

    async def stop_for(number: str) -> None:
        await submitting.wait_clear([number], timeout_s=60)
        cleared_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_for, "+1")
        await trio.sleep(5)
        submitting.leave(["+1", "+2"])  # one of the two submissions to +1 is done
        await trio.sleep(5)
        assert cleared_at == []
        submitting.leave(["+1"])
    assert cleared_at == [10.0]


async def test_waiting_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    submitting = InFlightNumbers()
    submitting.enter(["+1"])
    await submitting.wait_clear(["+1"], timeout_s=30)
    assert trio.current_time() == 30
    await submitting.wait_clear(["+9"], timeout_s=30)  # not in flight: at once
    assert trio.current_time() == 30
