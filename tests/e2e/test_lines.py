"""End to end over a pool of lines: enqueue → daemon (line scheduler, SMPP client) → the
simulator's SMSC counting every source address's rate → receipts."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.harness import send_campaign, start_simulator, write_config

COUNT = 250
LINES = 20
RATE = 4  # messages/s per line, burst 1: 80/s for the pool (about 57/s with the margin)
POOL = (f'\n[pools.lines]\ngateway = "default"\nrate = {RATE}\nburst = 1\n'
        f'lines = [{{ pattern = "3370000{{00..{LINES - 1}}}" }}]\n')
# The simulator counts each SMS part against the line's rate: a one-part text, and a
# three-part one (GSM-7, 153 a part) whose parts a burst-1 line can only take spaced out.
TEXT = "Reunion publique jeudi 19 h, salle des fetes. Parti Test. STOP au 36111"
LONG_TEXT = ("Reunion publique jeudi 19 h, salle des fetes, avec nos candidats. " * 6
             + "Parti Test. STOP au 36111")


async def start_line_simulator(reaper: list[Child], tmp_path: Path) -> Child:
    """The SMPP simulator counting each line's rate as the pool declares it."""
    return await start_simulator(reaper, tmp_path, "--smpp-port", "0", "--account",
                                 "e2e:secret", "--receipt-delay-ms", "50", "--line-rate",
                                 str(RATE), "--line-burst", "1")


@pytest.mark.parametrize(("text", "parts"), [(TEXT, 1), (LONG_TEXT, 3)])
async def test_a_pool_spreads_a_campaign_over_its_lines_with_no_line_violation(
        settings: Settings, tmp_path: Path, reaper: list[Child], text: str, parts: int) -> None:
    with trio.fail_after(120):
        simulator = await start_line_simulator(reaper, tmp_path)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["smpp_port"], consumer="lines", batch_size=20,
                              smpp=True, daemon_extra="line_jitter_s = 0.1\n", tables=POOL)
        numbers = [f"06{60_000_000 + i:08d}" for i in range(COUNT)]
        counts, stats = await send_campaign(reaper, tmp_path, simulator, config, "lines",
                                            numbers, text)
    assert counts["delivered"] + counts["failed"] + counts["expired"] == COUNT
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert (stats["accepted"], stats["duplicates"]) == (COUNT, 0)  # none lost, none twice
    assert stats["smpp"]["parts"] == COUNT * parts
    assert stats["line_violations"] == 0
    assert stats["lines_seen"] == LINES  # spread over the whole pool
