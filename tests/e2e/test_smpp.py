"""End to end over SMPP: enqueue → daemon (SMPP client) → simulator's SMSC → receipts."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.conftest import ON_BOTH
from tests.e2e.harness import send_campaign, start_simulator, write_config

COUNT = 5000
LONG_TEXT = ("Chère électrice, cher électeur : le meeting de dimanche est déplacé à la salle "
             "des fêtes, 18 h. Venez nombreux ! Parti Test. STOP au 36111")  # UCS-2, 2 parts
SHORT_TEXT = "Meeting moved to the town hall, 6 pm. Parti Test. STOP au 36111"  # GSM-7, 1 part


async def run_campaign(tmp_path: Path, settings: Settings, reaper: list[Child],
                       *simulator_flags: str, text: str = LONG_TEXT
                       ) -> tuple[dict[str, int], dict[str, object]]:
    simulator = await start_simulator(reaper, tmp_path, "--smpp-port", "0",
                                      "--account", "e2e:secret", "--receipt-delay-ms", "50",
                                      *simulator_flags)
    config = write_config(tmp_path / "dispatch.toml", settings, simulator.ready["smpp_port"],
                          consumer="smpp", batch_size=50, smpp=True)
    numbers = [f"06{50_000_000 + i:08d}" for i in range(COUNT)]
    return await send_campaign(reaper, tmp_path, simulator, config, "smpp", numbers, text)


@ON_BOTH
async def test_every_message_final_none_lost_none_twice(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(240):
        counts, stats = await run_campaign(tmp_path, settings, reaper)
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["accepted"] == COUNT
    assert stats["duplicates"] == 0


async def test_with_30_percent_throttling_and_a_forced_disconnect(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(300):
        counts, stats = await run_campaign(tmp_path, settings, reaper,
                                           "--throttle-rate", "0.3",
                                           "--disconnect-after", str(COUNT // 2))
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["accepted"] == COUNT
    assert stats["duplicates"] == 0
    smpp = stats["smpp"]
    assert isinstance(smpp, dict)
    assert smpp["throttled"] > COUNT * 0.2  # the throttling really happened
    assert smpp["disconnects"] >= 1  # and so did the disconnect


async def test_with_1_percent_of_answers_lost_every_message_ends_final(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    """A submit_sm never answered times out alone and is sent again (fate unknown); its
    batch goes on without it."""
    with trio.fail_after(300):
        counts, stats = await run_campaign(tmp_path, settings, reaper,
                                           "--no-response", "0.01", "--seed", "7")
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert stats["accepted"] == COUNT
    smpp = stats["smpp"]
    assert isinstance(smpp, dict)
    assert smpp["no_response"] > 0  # answers really were lost
    assert isinstance(stats["duplicates"], int)
    assert stats["duplicates"] <= smpp["no_response"]



@pytest.mark.parametrize("text", [SHORT_TEXT, LONG_TEXT], ids=["one-part", "long"])
async def test_against_the_lean_smsc_every_message_final_and_the_ledger_exact(
        settings: Settings, tmp_path: Path, reaper: list[Child], text: str) -> None:
    """`--lean` (the bench's SMSC): a one-part text takes its fast path, a two-part one the
    general codec; either way every receipt comes and the ledger counts each message once."""
    with trio.fail_after(240):
        counts, stats = await run_campaign(tmp_path, settings, reaper, "--lean", text=text)
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert (stats["accepted"], stats["duplicates"]) == (COUNT, 0)
    smpp = stats["smpp"]
    assert isinstance(smpp, dict)
    assert smpp["lean"] is True
    assert smpp["parts"] == COUNT if text == SHORT_TEXT else smpp["parts"] > COUNT
    assert smpp["receipts_pending"] == smpp["receipts_failed"] == 0
