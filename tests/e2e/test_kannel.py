"""End to end through a real Kannel: enqueue → daemon (kannel gateway, sendsms GETs) →
smsbox → bearerbox → the simulator's SMSC → receipts back through Kannel's dlr-url calls;
and a STOP sent by a handset (simulator MO) → Kannel → its sms-service get-url → opted out.

Real processes: Redis (the session's), the simulator, bearerbox and smsbox (Debian's
`kannel`: a missing one fails the test naming the package, as CI installs it), the daemon,
the CLI. Kannel runs on free loopback ports with its logs in the test's directory, shown
when it fails to start. Phone numbers are never printed: failures show counts. Each test
takes about 8 s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from dispatch.bench.kannel import (
    MAX_MESSAGES,
    SMSC_ID,
    USER,
    Kannel,
    KannelPorts,
    Smsc,
    mo_url,
    start_kannel,
)
from dispatch.gateways.kannel.sendsms import kannel_parts
from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.text import UCS2, analyse
from tests.e2e.harness import (
    free_port,
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    wait_until_final,
)
from tests.real_tools import real_tool

GATEWAY = "kannel"
TOKEN = "e2e-kannel-token-0123456789"
LINE = "36111"
# Every text names the sender and the way out, as enqueue's lint asks.
TEXTS = {
    "k-gsm": "Parti Test : meeting dimanche 18 h, salle municipale. STOP au 36111",
    "k-ucs2": "Parti Test : Привет, réunion dimanche ŝ 18 h. STOP au 36111",
    "k-long": ("Parti Test : chère électrice, cher électeur, le meeting de dimanche est "
               "déplacé à la salle municipale, 18 h. Nous y parlerons des écoles, des "
               "transports, du logement et de la sécurité dans le quartier. Venez nombreux "
               "avec vos voisins, vos amis et votre famille : les portes ouvrent à 17 h 30. "
               "Un pot suivra la réunion. Merci beaucoup. STOP au 36111"),  # GSM-7, 3 parts
}
PER_CAMPAIGN = 40


def numbers(campaign_index: int) -> list[str]:
    return [f"06{70_000_000 + campaign_index * 1000 + i:08d}" for i in range(PER_CAMPAIGN)]


@dataclass
class Run:
    """Kannel between a simulator and the daemon, on the test's Redis."""

    simulator: Child
    kannel: Kannel
    config: Path
    reaper: list[Child]
    daemon: Child | None = None

    @property
    def children(self) -> list[Child]:
        daemon = [] if self.daemon is None else [self.daemon]
        return [self.simulator, self.kannel.bearerbox, self.kannel.smsbox, *daemon]


def daemon_config(path: Path, settings: Settings, inbound_port: int, kannel: Kannel) -> Path:
    path.write_text(
        f'[redis]\nurl = "{settings.redis.url}"\nkey_prefix = "{settings.redis.key_prefix}"\n\n'
        f'[daemon]\nconsumer = "kannel"\ninbound_port = {inbound_port}\nmetrics_port = 0\n'
        "retry_base_s = 0.05\nretry_max_s = 0.5\n\n"
        f'[gateways.{GATEWAY}]\ntype = "kannel"\nurl = "{kannel.sendsms_url}"\n'
        f'username = "{USER[0]}"\nsmsc_id = "{SMSC_ID}"\nmax_parts = {MAX_MESSAGES}\n'
        f'sender = "{LINE}"\nbatch_size = 20\nconcurrency = 8\n')
    return path


async def start_kannel_run(tmp_path: Path, settings: Settings, reaper: list[Child],
                           monkeypatch: pytest.MonkeyPatch, *simulator_flags: str) -> Run:
    """The simulator (receipts after 50 ms, `simulator_flags`), Kannel bound to it, and the
    daemon's config; its secrets in the environment, as in production."""
    tools = (real_tool("bearerbox", "kannel"), real_tool("smsbox", "kannel"))
    monkeypatch.setenv("DISPATCH_GATEWAY_KANNEL_PASSWORD", USER[1])
    monkeypatch.setenv("DISPATCH_GATEWAY_KANNEL_INBOUND_SECRET", TOKEN)
    simulator = await start_simulator(reaper, tmp_path, "--smpp-port", "0", "--account",
                                      "kannel:simpw", "--receipt-delay-ms", "50",
                                      *simulator_flags)
    inbound_port = free_port()
    ports = KannelPorts(free_port(), free_port(), free_port())
    kannel = await start_kannel(tmp_path, ports,
                                Smsc(simulator.ready["smpp_port"], "kannel", "simpw"),
                                mo_url(inbound_port, GATEWAY, TOKEN), tools, reaper)
    config = daemon_config(tmp_path / "dispatch.toml", settings, inbound_port, kannel)
    return Run(simulator, kannel, config, reaper)


async def send_all(run: Run, tmp_path: Path, texts: dict[str, str]) -> dict[str, int]:
    """Enqueue each campaign (PER_CAMPAIGN numbers a text), start the daemon, wait until
    every message is final; the totals by state. The daemon stays up."""
    for index, (campaign, text) in enumerate(texts.items()):
        path = tmp_path / f"{campaign}.csv"
        path.write_text("phone\n" + "\n".join(numbers(index)) + "\n")
        result = await run_cli("enqueue", str(path), "--campaign", campaign, "--text", text,
                               "--gateway", GATEWAY, "--config", str(run.config), "--json")
        assert result.returncode == 0, result.stderr.decode()
        assert json.loads(result.stdout)["accepted"] == PER_CAMPAIGN
    run.daemon = await start_daemon(run.reaper, tmp_path, run.config)
    counts = [await wait_until_final(run.config, campaign, PER_CAMPAIGN, run.children)
              for campaign in texts]
    return {state: sum(c.get(state, 0) for c in counts)
            for state in ("delivered", "failed", "expired", "submitted", "queued")}


async def stop(run: Run, tmp_path: Path) -> None:
    """The daemon (exit 0), then Kannel; the daemon's log holds no secret, no number."""
    assert run.daemon is not None and await run.daemon.stop() == 0
    await run.kannel.stop()
    log = (tmp_path / "daemon.log").read_text()
    assert TOKEN not in log and USER[1] not in log
    logged = {digits[i:i + 9] for found in re.findall(r"\d(?:[ .+-]?\d)*", log)
              for digits in [re.sub(r"\D", "", found)] for i in range(len(digits) - 8)}
    assert not logged & {n[1:] for i in range(len(TEXTS)) for n in numbers(i)}, "numbers"


async def send_stop(simulator: Child, number: str) -> None:
    """A handset's STOP to our line, through Kannel's bind (MO over SMPP)."""
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"http://127.0.0.1:{simulator.ready['http_port']}/mo",
                                  json={"from": number, "to": LINE, "text": "STOP",
                                        "system_id": "kannel"})
    assert reply.status_code == 202, reply.text


async def opted_out(config: Path, number: str) -> bool:
    result = await run_cli("optout", "check", number, "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr.decode()
    return bool(json.loads(result.stdout)["opted_out"])


async def test_campaigns_through_kannel_end_final_and_a_stop_comes_back(
        settings: Settings, tmp_path: Path, reaper: list[Child],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(60):
        run = await start_kannel_run(tmp_path, settings, reaper, monkeypatch,
                                     "--outcomes", "delivered=0.8,undeliverable=0.2")
        total = await send_all(run, tmp_path, TEXTS)
        stats = await simulator_stats(run.simulator)
        stopper = "+33" + numbers(0)[0][1:]
        await send_stop(run.simulator, stopper)
        while not await opted_out(run.config, stopper):
            await trio.sleep(0.2)
        # The opt-out's confirmation goes back out through Kannel too (without a report).
        while (await simulator_stats(run.simulator))["accepted"] == stats["accepted"]:
            await trio.sleep(0.2)
        await stop(run, tmp_path)
    outcomes = stats["outcomes"]
    assert total["submitted"] == total["queued"] == total["expired"] == 0, total
    assert total["delivered"] == outcomes["delivered"], (total, outcomes)
    assert total["failed"] == outcomes["undeliverable"], (total, outcomes)
    assert stats["accepted"] == len(TEXTS) * PER_CAMPAIGN and stats["duplicates"] == 0
    check_parts(stats["smpp"])


def check_parts(smpp: dict[str, int]) -> None:
    """The SMSC got each text in the coding and the parts the gateway charged."""
    parts = {campaign: kannel_parts(text) for campaign, text in TEXTS.items()}
    assert parts["k-long"] == 3 and parts["k-gsm"] == parts["k-ucs2"] == 1
    assert smpp["parts"] == PER_CAMPAIGN * sum(parts.values())
    ucs2 = sum(parts[c] for c, text in TEXTS.items() if analyse(text).encoding == UCS2)
    assert smpp["ucs2_parts"] == PER_CAMPAIGN * ucs2


async def test_a_message_the_smsc_refuses_after_kannel_took_it_ends_failed(
        settings: Settings, tmp_path: Path, reaper: list[Child],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Kannel answers 202 at once; the SMSC then refuses a quarter of the submit_sm
    (ESME_RINVDSTADR, permanent): those come back as Kannel's report 16 and end failed;
    the others end as their receipts say."""
    with trio.fail_after(60):
        run = await start_kannel_run(tmp_path, settings, reaper, monkeypatch,
                                     "--outcomes", "delivered=1", "--smpp-error", "0.25",
                                     "--smpp-error-status", "0x0B")
        total = await send_all(run, tmp_path, {"k-gsm": TEXTS["k-gsm"]})
        stats = await simulator_stats(run.simulator)
        await stop(run, tmp_path)
    refused = stats["smpp"]["errors_injected"]
    assert 0 < refused < PER_CAMPAIGN
    assert total == {"delivered": PER_CAMPAIGN - refused, "failed": refused, "expired": 0,
                     "submitted": 0, "queued": 0}
    assert stats["accepted"] == PER_CAMPAIGN - refused
