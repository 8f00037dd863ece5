"""The metrics an on-call engineer reads, scraped from a real `dispatch run --processes 2`
against the simulator (HTTP, SMPP and voice gateways), every scrape checked by the real
`promtool check metrics`:

- the campaign series (dispatch_campaign_messages, dispatch_queue_depth) come from one
  worker only, show a running campaign's progress, and go once a campaign has finished;
- dispatch_messages_waiting_for_window counts calls held for a consent slot closed now;
- dispatch_receipt_latency_seconds counts every final receipt, by gateway;
- dispatch_gateway_errors_total{code} counts the simulator's 429 answers exactly, and its
  SMPP throttling by command_status name;
- dispatch_smpp_binds{state="bound"}, dispatch_build_info and process_* are there.

Workers' metrics ports: the configured port plus K - 1 for worker K, 0 staying 0 (any free
port), as each worker's ready line says. Everything on 127.0.0.1; every wait bounded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import Settings
from tests.e2e.every_gateway import ACCOUNT, write_daemon_config
from tests.e2e.harness import simulator_stats, start_simulator, status
from tests.e2e.test_prometheus import closed_slot, enqueue
from tests.real_tools import real_tool
from tests.texts import SIGNED

RUN_S = 180.0  # the whole test
BINDS = 2  # SMPP binds per worker
STEADY = 1500  # SMS on 5 lines at 1/s each: still running when the test ends
QUICK = 60  # SMS over HTTP: final within seconds
HELD = 6  # calls for a slot closed now: held for their window
CAMPAIGN_SERIES = ("dispatch_campaign_messages", "dispatch_queue_depth")
SETTLED = ("delivered", "failed", "expired", "suppressed", "cancelled")

Scrape = list[Sample]


async def scrape(client: httpx.AsyncClient, port: int) -> str:
    reply = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert reply.status_code == 200, reply.text
    return reply.text


def samples(text: str) -> Scrape:
    return [sample for family in text_string_to_metric_families(text)
            for sample in family.samples]


async def scrape_all(client: httpx.AsyncClient, ports: list[int]) -> list[Scrape]:
    return [samples(await scrape(client, port)) for port in ports]


def total(scrapes: Iterable[Scrape], name: str, **labels: str) -> float:
    """The sum over the workers of `name`'s samples carrying `labels`."""
    return sum(sample.value for one in scrapes for sample in one
               if sample.name == name and labels.items() <= sample.labels.items())


def campaigns_shown(one: Scrape) -> set[str]:
    return {sample.labels["campaign"] for sample in one if sample.name in CAMPAIGN_SERIES}


async def promtool_complaints(text: str) -> str:
    """What `promtool check metrics` says about a scrape, read on its stdin: "" when clean
    (it exits 1 on a lint problem, and prints them on stdout or stderr by version)."""
    result = await trio.run_process([real_tool("promtool", "prometheus"), "check", "metrics"],
                                    stdin=text.encode(), capture_stdout=True,
                                    capture_stderr=True, check=False)
    said = (result.stdout + result.stderr).decode().strip()
    return said if result.returncode != 0 or said else ""


async def poll(client: httpx.AsyncClient, ports: list[int], children: list[Child],
               holds: Callable[[list[Scrape]], bool]) -> list[Scrape]:
    """Scrape every worker until `holds` (bounded by the test's timeout): those scrapes."""
    while True:
        scrapes = await scrape_all(client, ports)
        if holds(scrapes):
            return scrapes
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def final_counts(config: Path, campaign: str, expected: int, children: list[Child]
                       ) -> dict[str, int]:
    while True:
        counts: dict[str, int] = (await status(config))["campaigns"][campaign]
        if sum(counts.get(state, 0) for state in SETTLED) >= expected:
            return counts
        for child in children:
            assert child.process.returncode is None, f"{child.name} exited early"
        await trio.sleep(0.2)


async def load(config: Path, tmp_path: Path) -> None:
    """A long SMPP campaign, a short HTTP one, and calls for a slot closed now."""
    await enqueue(config, tmp_path / "steady.csv",
                  ["phone", *(f"07{50_000_000 + i:08d}" for i in range(STEADY))],
                  "steady", "--pool", "lines", "--text", SIGNED)
    await enqueue(config, tmp_path / "quick.csv",
                  ["phone", *(f"06{10_000_000 + i:08d}" for i in range(QUICK))],
                  "quick", "--gateway", "http", "--text", SIGNED)
    consented = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    slot = closed_slot()
    await enqueue(config, tmp_path / "held.csv", [
        "phone,consent_source,consent_date,consent_slot",
        *(f"06{30_000_000 + i:08d},web,{consented},{slot}" for i in range(HELD))],
        "held", "--channel", "voice", "--pool", "callers", "--say", "Votez le 11 avril.",
        "--consent-required")


async def start(reaper: list[Child], tmp_path: Path, settings: Settings
                ) -> tuple[Child, Child, Path]:
    simulator = await start_simulator(
        reaper, tmp_path, "--smpp-port", "0", "--account", "e2e:secret",
        "--voice-account", f"{ACCOUNT}:token", "--error-429", "0.2",
        "--throttle-rate", "0.05", "--receipt-delay-ms", "100", "--call-ring-ms", "20")
    config = write_daemon_config(tmp_path / "dispatch.toml", settings, simulator,
                                 consumer="metrics", binds=BINDS, line_rate=1, lines=5)
    await load(config, tmp_path)
    daemons = await start_child("supervisor", dispatch_command(
        "run", "--config", str(config), "--processes", "2"), tmp_path / "daemons.log")
    reaper.append(daemons)
    return simulator, daemons, config


async def test_every_worker_scrape_is_promtool_clean_and_says_what_on_call_needs(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    real_tool("promtool", "prometheus")
    with trio.fail_after(RUN_S):
        simulator, daemons, config = await start(reaper, tmp_path, settings)
        children = [simulator, daemons]
        ports = [worker["metrics_port"] for worker in daemons.ready["workers"]]
        assert len(set(ports)) == 2 and 0 not in ports
        async with httpx.AsyncClient(timeout=10.0) as client:
            # Every worker: promtool finds nothing to say, while campaigns run.
            await poll(client, ports, children,
                       lambda s: total(s, "dispatch_campaign_messages", campaign="steady",
                                       state="delivered") > 0)
            for port in ports:
                assert await promtool_complaints(await scrape(client, port)) == "", port

            # One worker alone exports the campaign series (they describe Redis).
            scrapes = await scrape_all(client, ports)
            exporting = [index for index, one in enumerate(scrapes) if campaigns_shown(one)]
            assert exporting == [0], "campaign series from worker(s) " + repr(exporting)
            assert campaigns_shown(scrapes[0]) >= {"steady", "held"}

            # The running campaign's progress: every message in exactly one state.
            steady = {sample.labels["state"]: sample.value for sample in scrapes[0]
                      if sample.name == "dispatch_campaign_messages"
                      and sample.labels["campaign"] == "steady"}
            assert sum(steady.values()) == STEADY
            assert 0 < steady["delivered"] < STEADY
            assert total(scrapes, "dispatch_queue_depth", campaign="steady") == steady["queued"]

            # The held calls wait for their window (summed over workers: each holds its own).
            await poll(client, ports, children,
                       lambda s: total(s, "dispatch_messages_waiting_for_window",
                                       campaign="held") == HELD)

            # The short campaign finishes: every final receipt's latency counted, its
            # series gone from the next scrapes.
            counts = await final_counts(config, "quick", QUICK, children)
            receipts = sum(counts.get(state, 0) for state in ("delivered", "failed", "expired"))
            assert receipts == QUICK
            await poll(client, ports, children,
                       lambda s: total(s, "dispatch_receipt_latency_seconds_count",
                                       gateway="http") == QUICK)
            await poll(client, ports, children,
                       lambda s: all("quick" not in campaigns_shown(one) for one in s))

            # Gateway errors by code: the simulator's 429s, all of them and nothing else
            # on HTTP (the HTTP campaign is over: no more requests); SMPP's throttling.
            throttled = (await simulator_stats(simulator))["faults"]["429"]
            scrapes = await scrape_all(client, ports)
            assert throttled > 0
            assert total(scrapes, "dispatch_gateway_errors_total", gateway="http",
                         code="429") == throttled
            assert total(scrapes, "dispatch_gateway_errors_total", gateway="http") \
                == throttled
            assert total(scrapes, "dispatch_gateway_errors_total", gateway="smpp",
                         code="ESME_RTHROTTLED") > 0

            # Receipts keep coming on SMPP: the latency histogram's count grows.
            before = total(scrapes, "dispatch_receipt_latency_seconds_count", gateway="smpp")
            await poll(client, ports, children,
                       lambda s: total(s, "dispatch_receipt_latency_seconds_count",
                                       gateway="smpp") > before)

            scrapes = await scrape_all(client, ports)
            for one in scrapes:  # per worker
                assert total([one], "dispatch_smpp_binds", gateway="smpp",
                             state="bound") == BINDS
                assert total([one], "dispatch_gateway_up", gateway="smpp") == 1
                assert total([one], "dispatch_build_info") == 1
                assert total([one], "process_resident_memory_bytes") > 0
                assert total([one], "dispatch_ready") == 1
                assert total([one], "dispatch_lines", pool="lines") > 0
                assert any(sample.name == "dispatch_line_utilisation_ratio" for sample in one)
            for port in ports:
                assert await promtool_complaints(await scrape(client, port)) == "", port
        await daemons.stop(timeout_s=60)
        await simulator.stop()


async def test_promtool_reports_a_bad_exposition() -> None:
    """The check above can fail: promtool complains about a counter without _total."""
    real_tool("promtool", "prometheus")
    with trio.fail_after(30):
        said = await promtool_complaints(
            "# HELP dispatch_things Things.\n# TYPE dispatch_things counter\n"
            "dispatch_things 1\n")
    assert "_total" in said

