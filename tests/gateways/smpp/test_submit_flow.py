"""Submitting through SmppGateway to the Session-based test SMSC over real TCP."""

from __future__ import annotations

import trio
import trio.testing

from dispatch.gateways.smpp.submit import NO_BIND, REFERENCE_TAG
from dispatch.smpp import BindTransceiver, SubmitSm
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry

from .helpers import eventually, outbound, running_gateway, running_smsc, settings
from .smsc import TestSmsc, reference_of


async def test_single_message_is_accepted_with_its_id_and_addressing() -> None:
    with trio.fail_after(10):
        async with running_smsc(TestSmsc()) as smsc, \
                running_gateway(settings(smsc.port, source_ton=5, dest_ton=1)) as gateway:
            results = await gateway.submit(outbound(1))
            assert results == [Accepted("ref-0")]
            [pdu] = smsc.bound[0].submits
            assert isinstance(smsc.binds[0], BindTransceiver)
            assert (smsc.binds[0].system_id, smsc.binds[0].password) == ("dispatch", "s3cret")
            assert (pdu.source_addr, pdu.source_addr_ton) == ("DISPATCH", 5)
            assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == (
                "33612340000", 1, 1)
            assert (pdu.data_coding, pdu.esm_class, pdu.registered_delivery) == (0, 0, 1)
            assert pdu.short_message == b"hello"
            assert pdu.tlvs[REFERENCE_TAG] == b"ref-0\0"


async def test_the_window_is_never_exceeded_and_answers_out_of_order_match(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(delay_s=0.05, reverse=True)
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, window=5)) as gw:
            results = await gw.submit(outbound(40))
            assert results == [Accepted(f"ref-{i}") for i in range(40)]
            conn = smsc.bound[0]
            assert len(conn.submits) == 40
            assert conn.max_outstanding == 5  # filled, never exceeded
            assert conn.max_submits_per_read > 1  # batched writes: several PDUs in one read


async def test_concurrent_submits_share_the_window(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(delay_s=0.01)
    results: dict[int, list[object]] = {}
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, window=7)) as gw:
            async def one(n: int) -> None:
                results[n] = list(await gw.submit(outbound(25, start=n * 100)))
            async with trio.open_nursery() as nursery:
                for n in range(4):
                    nursery.start_soon(one, n)
            assert smsc.bound[0].max_outstanding == 7
    for n in range(4):
        assert results[n] == [Accepted(f"ref-{i}") for i in range(n * 100, n * 100 + 25)]


async def test_batch_spreads_over_several_binds(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(delay_s=0.01)
    with trio.fail_after(60):
        async with running_smsc(smsc), \
                running_gateway(settings(smsc.port, window=4, binds=3)) as gw:
            await eventually(lambda: gw.stats.binds_up == 3)
            results = await gw.submit(outbound(30))
            assert all(isinstance(r, Accepted) for r in results)
            counts = [len(c.submits) for c in smsc.bound]
            assert sum(counts) == 30 and all(counts)
            assert all(c.max_outstanding <= 4 for c in smsc.bound)


async def test_permanent_error_rejects_transient_and_vendor_codes_retry() -> None:
    statuses = {"ref-0": 0x0B, "ref-1": 0x08, "ref-2": 0x401, "ref-3": 0x45, "ref-4": 0}
    smsc = TestSmsc(respond=lambda pdu: statuses[reference_of(pdu)])
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            results = await gw.submit(outbound(5))
    assert results[0] == Rejected("ESME_RINVDSTADR (0x0000000b)")
    assert isinstance(results[1], Retry) and "ESME_RSYSERR" in results[1].reason
    assert isinstance(results[2], Retry) and "vendor 0x00000401" in results[2].reason
    assert results[3] == Rejected("ESME_RSUBMITFAIL (0x00000045)")
    assert results[4] == Accepted("ref-4")


async def test_throttled_answers_retry_and_slow_the_bind_down(
        autojump_clock: trio.testing.MockClock) -> None:
    throttle = {"on": True}
    smsc = TestSmsc(respond=lambda pdu: 0x58 if throttle["on"] else 0)
    with trio.fail_after(120):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, window=50)) as gw:
            first = await gw.submit(outbound(40))
            assert all(isinstance(r, Retry) and r.after_s and "ESME_RTHROTTLED" in r.reason
                       for r in first)
            assert gw.stats.throttled == 40
            [rate] = gw.rates
            assert rate is not None and rate <= 20  # halved from the ~40/s it was sending
            throttle["on"] = False
            conn = smsc.bound[0]
            started = len(conn.submits)
            second = await gw.submit(outbound(40, start=100))
            assert all(isinstance(r, Accepted) for r in second)
            times = conn.submit_times[started:]
            # Paced: 40 messages at <= ~20/s (recovering 10 %/s) take well over a second.
            assert times[-1] - times[0] > 1.5


async def test_queue_full_also_slows_down() -> None:
    smsc = TestSmsc(respond=lambda pdu: 0x14)
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            [result] = await gw.submit(outbound(1))
            assert isinstance(result, Retry) and "ESME_RMSGQFUL" in result.reason
            assert gw.rates[0] is not None


async def test_no_answer_within_timeout_is_retry_fate_unknown(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(respond=lambda pdu: None)
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, timeout_s=3)) as gw:
            started = trio.current_time()
            results = await gw.submit(outbound(3))
            assert results == [Retry("no response: fate unknown")] * 3
            assert 3 <= trio.current_time() - started < 4
            assert gw.stats.timeouts == 3


async def test_a_late_answer_after_the_timeout_is_counted(
        autojump_clock: trio.testing.MockClock) -> None:
    smsc = TestSmsc(delay_s=4)
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port, timeout_s=3)) as gw:
            assert await gw.submit(outbound(2)) == [Retry("no response: fate unknown")] * 2
            await eventually(lambda: gw.stats.late_responses == 2)
            assert gw.stats.timeouts == 2


async def test_invalid_text_or_number_is_rejected_without_sending() -> None:
    smsc = TestSmsc()
    bad = [Outbound("r1", "+33612345678", "DISPATCH", "x\ud800y"),
           Outbound("r2", "not-a-number", "DISPATCH", "hello"),
           Outbound("r3", "+33612345678", "DISPATCH", "ok")]
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            results = await gw.submit(bad)
            assert isinstance(results[0], Rejected) and "encoded" in results[0].reason
            assert isinstance(results[1], Rejected) and "destination" in results[1].reason
            assert results[2] == Accepted("r3")
            assert [reference_of(p) for p in smsc.bound[0].submits] == ["r3"]


def _parts(submits: list[SubmitSm], reference: str) -> list[SubmitSm]:
    return [p for p in submits if reference_of(p) == reference]


async def test_multipart_message_goes_as_udh_parts_with_receipt_on_the_last() -> None:
    long_gsm = "a" * 200  # 2 parts of 153 + 47
    long_ucs2 = "é€ ☺ " * 30  # UCS-2 (☺), 150 units: 3 parts of 67
    messages = [Outbound("long-1", "+33612345678", "DISPATCH", long_gsm),
                Outbound("long-2", "+33612345679", "DISPATCH", long_ucs2)]
    smsc = TestSmsc()
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            results = await gw.submit(messages)
            submits = smsc.bound[0].submits
    assert results == [Accepted("long-1-2"), Accepted("long-2-3")]
    gsm = _parts(submits, "long-1")
    assert [p.esm_class for p in gsm] == [0x40, 0x40]
    assert [p.registered_delivery for p in gsm] == [0, 1]
    reference = gsm[0].short_message[3]
    assert [p.short_message[:6] for p in gsm] == [bytes([5, 0, 3, reference, 2, 1]),
                                                  bytes([5, 0, 3, reference, 2, 2])]
    assert b"".join(p.short_message[6:] for p in gsm) == b"a" * 200
    ucs2 = _parts(submits, "long-2")
    assert len(ucs2) == 3 and {p.data_coding for p in ucs2} == {8}
    assert [p.registered_delivery for p in ucs2] == [0, 0, 1]
    assert ucs2[0].short_message[3] != reference  # each message its own reference
    text = b"".join(p.short_message[6:] for p in ucs2).decode("utf-16-be")
    assert text == long_ucs2


async def test_a_rejected_part_rejects_the_message() -> None:
    smsc = TestSmsc(respond=lambda pdu: 0x0B if pdu.esm_class and pdu.short_message[5] == 2
                    else 0)
    with trio.fail_after(10):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            [result] = await gw.submit([Outbound("m", "+33612345678", "D", "b" * 400)])
    assert result == Rejected("ESME_RINVDSTADR (0x0000000b)")


async def test_submit_without_any_bind_retries_at_once() -> None:
    with trio.fail_after(10):
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        await listener.aclose()  # nothing listens there any more: connection refused
        async with running_gateway(settings(port)) as gw:
            assert not gw.bound
            assert await gw.submit(outbound(2)) == [NO_BIND] * 2


async def test_parts_with_offsets_go_at_their_times_and_the_message_is_answered_once(
        autojump_clock: trio.testing.MockClock) -> None:
    """A line's rate spaces a long message's parts (see lines.scheduler): each part leaves
    at its offset from the submission, without waiting for the earlier part's answer."""
    smsc = TestSmsc(delay_s=3.0)  # answers come later than the next part is due
    spaced = Outbound("long", "+33612345678", "L1", "c" * 400, part_offsets=(0.0, 2.0, 4.0))
    with trio.fail_after(60):
        async with running_smsc(smsc), running_gateway(settings(smsc.port)) as gw:
            started = trio.current_time()
            results = await gw.submit([spaced, *outbound(1)])
            conn = smsc.bound[0]
    assert results == [Accepted("long-3"), Accepted("ref-0")]
    times: dict[str, list[float]] = {reference_of(pdu): [] for pdu in conn.submits}
    for pdu, at in zip(conn.submits, conn.submit_times, strict=True):
        times[reference_of(pdu)].append(round(at - started, 3))
    assert times == {"long": [0.0, 2.0, 4.0], "ref-0": [0.0]}
    assert [pdu.short_message[5] for pdu in _parts(conn.submits, "long")] == [1, 2, 3]
