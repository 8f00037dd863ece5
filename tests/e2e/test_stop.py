"""End to end, STOP honoured: recipients reply STOP through the simulator, the daemon
records the opt-outs, and nothing more reaches them from that line.

Real processes (simulator, daemon, CLI). The simulator decides who replies by a keyed hash
of the number (--seed 3 in the harness), so the test knows the STOP numbers in advance
(`ReplyDecider`) and checks them against the daemon's list. Phone numbers are never
printed: a failed comparison reports counts only. Each test takes 15-25 s.

The last test (a STOP landing while the next campaign is sending) fails today: see its
docstring.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.simulator.replies import ReplyDecider
from tests.e2e.conftest import ON_BOTH
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    status,
    wait_until_final,
    write_config,
)
from tests.inbound import CALLBACK_SECRET

COUNT = 2000
SHARE = 0.05
SEED = 3  # the harness starts the simulator with --seed 3
TEXT = "Parti Test : meeting dimanche 18 h. STOP au 36111"
REPLY_FLAGS = ("--reply-share", str(SHARE), "--reply-delay-ms", "50",
               "--receipt-delay-ms", "50", "--outcomes", "delivered=1")
SMPP_FLAGS = ("--smpp-port", "0", "--account", "e2e:secret")


def write_numbers(path: Path, first: int, *, count: int = COUNT, reverse: bool = False
                  ) -> tuple[Path, set[str]]:
    """`count` mainland mobiles (national format, in reverse order if asked), and the
    E.164 ones that will STOP."""
    numbers = [f"06{first + i:08d}" for i in range(count)]
    rows = (f"{number},formulaire web,2026-01-15"
            for number in (reversed(numbers) if reverse else numbers))
    path.write_text("phone,consent_source,consent_date\n" + "\n".join(rows) + "\n")
    decider = ReplyDecider(SHARE, seed=SEED)
    return path, {e164 for n in numbers if decider.replies(e164 := "+33" + n[1:])}


async def enqueue(path: Path, campaign: str, config: Path,
                  gateway: str = "default") -> dict[str, Any]:
    result = await run_cli("enqueue", str(path), "--campaign", campaign, "--text", TEXT,
                           "--gateway", gateway, "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


async def wait_until_settled(config: Path, campaign: str, count: int,
                             children: list[Child]) -> dict[str, int]:
    """Poll `dispatch status` until every message is final or suppressed."""
    while True:
        counts: dict[str, int] = (await status(config))["campaigns"][campaign]
        if sum(counts[state] for state in ("delivered", "failed", "expired",
                                           "suppressed")) >= count:
            return counts
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def wait_for_replies(simulator: Child, children: list[Child]) -> dict[str, Any]:
    """Poll /stats until every reply decided is acknowledged or failed."""
    while True:
        stats = await simulator_stats(simulator)
        if stats["replies"]["decided"] and not stats["replies"]["pending"]:
            return stats
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def wait_for_confirmations(simulator: Child, count: int, children: list[Child]
                                 ) -> dict[str, Any]:
    """Poll /stats until the simulator accepted `count` opt-out confirmations."""
    while True:
        stats = await simulator_stats(simulator)
        if stats["confirmations"] >= count:
            return stats
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def opted_out(config: Path) -> set[str]:
    result = await run_cli("optout", "export", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    return {row["number"] for row in csv.DictReader(io.StringIO(result.stdout.decode()))}


async def check_one(config: Path, number: str, line: str) -> None:
    result = await run_cli("optout", "check", number, "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["opted_out"] is True
    assert f"line:{line}" in report["scopes"]


async def stop_then_resend(tmp_path: Path, config: Path, simulator: Child,
                           reaper: list[Child], line: str) -> dict[str, Any]:
    """Campaign a, its STOPs, then campaign b on the same file: the STOP numbers are
    suppressed when b is loaded, and nothing reaches them."""
    path, stops = write_numbers(tmp_path / "voters.csv", 30_000_000)
    daemon = await start_daemon(reaper, tmp_path, config)
    try:
        assert (await enqueue(path, "a", config))["accepted"] == COUNT
        await wait_until_final(config, "a", COUNT, [daemon, simulator])
        stats = await wait_for_replies(simulator, [daemon, simulator])
        assert stats["replies"]["acknowledged"] == stats["replies"]["decided"] == len(stops)
        assert len(opted_out_diff := (await opted_out(config)) ^ stops) == 0, \
            f"{len(opted_out_diff)} numbers differ between the STOPs and the opt-out list"
        await check_one(config, min(stops), line)
        await wait_for_confirmations(simulator, len(stops), [daemon, simulator])

        report = await enqueue(path, "b", config)
        assert (report["suppressed"], report["accepted"]) == (len(stops), COUNT - len(stops))
        counts = await wait_until_final(config, "b", COUNT - len(stops), [daemon, simulator])
    finally:
        assert await daemon.stop() == 0
    stats = await simulator_stats(simulator)
    assert stats["sent_after_stop"] == 0
    assert stats["confirmations"] == len(stops)  # one per STOP, from the line it was sent to
    assert stats["accepted"] == 2 * COUNT - len(stops) + len(stops)
    assert counts["suppressed"] == len(stops)
    assert (await status(config))["campaigns"]["b"]["suppressed"] == len(stops)
    return {"stops": len(stops), "b": counts}


@ON_BOTH
async def test_stop_over_http_suppresses_the_next_campaign(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, *REPLY_FLAGS)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="stop")
        result = await stop_then_resend(tmp_path, config, simulator, reaper, "DISPATCH")
        await simulator.stop()
    assert 0.03 * COUNT < result["stops"] < 0.07 * COUNT


@ON_BOTH
async def test_stop_over_smpp_suppresses_the_next_campaign(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, *REPLY_FLAGS, *SMPP_FLAGS)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["smpp_port"], consumer="stop", batch_size=50,
                              smpp=True)
        result = await stop_then_resend(tmp_path, config, simulator, reaper, "36111")
        stats = await simulator_stats(simulator)
        await simulator.stop()
    assert stats["smpp"]["mo_sent"] == result["stops"]  # the replies went over SMPP
    assert stats["smpp"]["mo_failed"] == 0


@ON_BOTH
async def test_messages_queued_before_the_stop_are_suppressed_when_their_turn_comes(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    """Campaigns a and b are both queued before any reply; b must then be held back
    until every STOP has landed, without relying on timing. b goes through its own
    gateway entry ("later": the same simulator, the same sender line), and the first
    daemon is configured with the "default" gateway only, so it sends a and records the
    STOPs while every message of b stays queued (checked). A second daemon, configured
    with both gateways, then sends b: each of its messages to a STOP number was queued
    before the STOP and is caught by the check right before sending (suppressed), none
    by the check at load time (b's enqueue reported none suppressed)."""
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, *REPLY_FLAGS)
        port = simulator.ready["http_port"]
        first = write_config(tmp_path / "first.toml", settings, port, consumer="first")
        both = write_config(tmp_path / "both.toml", settings, port, consumer="second")
        with both.open("a") as handle:
            handle.write(f'\n[gateways.later]\nurl = "http://127.0.0.1:{port}"\n'
                         "batch_size = 100\nconcurrency = 4\n"
                         f'inbound_secret = "{CALLBACK_SECRET}"\n')
        path, stops = write_numbers(tmp_path / "voters.csv", 40_000_000)
        for campaign, gateway in (("a", "default"), ("b", "later")):
            report = await enqueue(path, campaign, both, gateway)
            assert (report["accepted"], report["suppressed"]) == (COUNT, 0)

        daemon = await start_daemon(reaper, tmp_path, first, "daemon-first")
        try:
            await wait_until_final(first, "a", COUNT, [daemon, simulator])
            stats = await wait_for_replies(simulator, [daemon, simulator])
            assert stats["replies"]["acknowledged"] == len(stops)
            assert (await status(first))["campaigns"]["b"]["queued"] == COUNT
            await wait_for_confirmations(simulator, len(stops), [daemon, simulator])
        finally:
            assert await daemon.stop() == 0

        daemon = await start_daemon(reaper, tmp_path, both, "daemon-second")
        try:
            counts = await wait_until_final(both, "b", COUNT - len(stops), [daemon, simulator])
        finally:
            assert await daemon.stop() == 0
        stats = await simulator_stats(simulator)
        await simulator.stop()
    assert stats["sent_after_stop"] == 0
    assert 0 < counts["suppressed"] == len(stops)
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["confirmations"] == len(stops)
    assert stats["accepted"] == 2 * COUNT - len(stops) + len(stops)


@ON_BOTH
async def test_a_stop_landing_while_the_next_campaign_is_sending_is_honoured(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    """One daemon sends a and b at once (both queued first, same line), b's file in
    reverse order: each campaign reaches last the recipients the other reached first, so
    across the run the second message to a STOP number comes around the moment its STOP
    lands, some just before, most after (those are suppressed). None may be sent once the
    STOP is acknowledged.

    FAILS today (10-25 messages per run, up to ~0.5-1 s after the STOP): the daemon checks
    the opt-out list when it takes a batch from Redis (admit.lua), not when the batch is
    submitted; a message admitted before a STOP is still sent after it, for as long as it
    waits in the daemon (up to 4 x daemon.batch_size messages are held in process). With
    both files in the same order nothing crosses and this test would prove nothing."""
    count = 4000
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, "--reply-share", str(SHARE),
                                          "--reply-delay-ms", "0", "--receipt-delay-ms", "0",
                                          "--outcomes", "delivered=1", "--latency-ms", "50")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="both", batch_size=50)
        forward, stops = write_numbers(tmp_path / "voters.csv", 50_000_000, count=count)
        backward, _ = write_numbers(tmp_path / "reversed.csv", 50_000_000, count=count,
                                    reverse=True)
        for campaign, path in (("a", forward), ("b", backward)):
            assert (await enqueue(path, campaign, config))["accepted"] == count
        daemon = await start_daemon(reaper, tmp_path, config)
        try:
            a = await wait_until_settled(config, "a", count, [daemon, simulator])
            b = await wait_until_settled(config, "b", count, [daemon, simulator])
            stats = await wait_for_replies(simulator, [daemon, simulator])
        finally:
            assert await daemon.stop() == 0
        await simulator.stop()
    assert stats["replies"]["acknowledged"] == len(stops)
    for counts in (a, b):  # every message sent or held back
        assert counts["delivered"] + counts["suppressed"] == count
    assert b["suppressed"] > 0  # the check at sending time did catch the later ones
    assert stats["sent_after_stop"] == 0, (
        f"{stats['sent_after_stop']} messages accepted after their recipient's STOP was "
        f"acknowledged, up to {stats['sent_after_stop_max_ms']} ms after it")
