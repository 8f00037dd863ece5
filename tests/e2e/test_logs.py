"""The logs of a whole incident-filled run hold no phone number and no secret: a
campaign paused and resumed, recipients answering STOP, the HTTP gateway gone for a while
(its simulator stopped, a new one started on the same port), Redis restarted under the
daemon (a password on it, AOF so the campaign survives); the daemon's JSON lines and the
simulators' text lines are read back in full, DEBUG included. They also tell the story:
the campaign's start, pause, resume and end, the gateway's outage and recovery, Redis's
loss and return, each once. What the run shows outside (the metrics scraped, /healthz on
both ports, the simulator's /stats, `dispatch status --json`, a forged post's 401) holds
none either."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import trio

from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import RedisSettings, Settings
from dispatch.store.server import find_redis_server
from tests.e2e.harness import (
    free_port,
    run_cli,
    start_simulator,
    wait_until_final,
    write_config,
)
from tests.inbound import CALLBACK_SECRET

COUNT = 600
LINE_RATE = 25  # messages/s: 24 s of sending
REDIS_PASSWORD = "r3dis-Pa55word-e2e"
SMPP_PASSWORD = "Sm9pw7xq"  # SMPP: at most 8 characters
# What the logs must be read for: every number in every way it could be written.
NATIONAL = [f"06{41_000_000 + i * 37:08d}" for i in range(COUNT)]


def csv_rows() -> str:
    """Half the numbers written nationally, half in E.164 with spaces."""
    rows = [number if i % 2 else f"+33 {number[1]} {' '.join(_pairs(number[2:]))}"
            for i, number in enumerate(NATIONAL)]
    return "phone\n" + "\n".join(rows) + "\n"


def _pairs(digits: str) -> list[str]:
    return [digits[i:i + 2] for i in range(0, len(digits), 2)]


SECRETS = (REDIS_PASSWORD, SMPP_PASSWORD, CALLBACK_SECRET)


async def test_no_number_and_no_secret_in_the_logs_and_outputs_of_an_incident_filled_run(
        tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(240):
        redis_port = free_port()
        redis = await start_redis(tmp_path, redis_port)
        try:
            outputs = await _run(tmp_path, reaper, redis_port)
        finally:
            redis.terminate()
            with trio.move_on_after(10):
                await redis.wait()
            redis.kill()
    logs = read_logs(tmp_path)
    assert {"daemon.log", "simulator.log", "simulator-2.log"} <= logs.keys()
    assert outputs.keys() == {"metrics", "healthz", "metrics_healthz", "stats", "status",
                              "forged"}
    assert "dispatch_inbound_rejected_total" in outputs["metrics"]
    for name, text in [*logs.items(), *outputs.items()]:
        assert numbers_in(text) == [], f"{name} holds phone numbers"
        for secret in SECRETS:
            assert secret not in text, f"{name} holds a secret"
    daemon = [json.loads(line) for line in logs["daemon.log"].splitlines()]
    assert all(line["worker"] == "logs-e2e" and line["ts"] for line in daemon)
    events = [(line.get("event"), line.get("dependency", line.get("campaign")))
              for line in daemon if line.get("event")]
    for event in [("campaign_started", "logs"), ("campaign_paused", "logs"),
                  ("campaign_resumed", "logs"), ("outage_started", "gateway"),
                  ("outage_ended", "gateway"), ("outage_started", "redis"),
                  ("outage_ended", "redis"), ("campaign_finished", "logs")]:
        assert event in events, f"no {event} line"
    assert events.count(("campaign_finished", "logs")) == 1


async def _run(tmp_path: Path, reaper: list[Child], redis_port: int) -> dict[str, str]:
    settings = Settings(redis=RedisSettings(
        url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0",
        key_prefix=f"t{uuid.uuid4().hex[:10]}"))
    http_port, smpp_port = free_port(), free_port()
    simulator_flags = ("--http-port", str(http_port), "--smpp-port", str(smpp_port),
                       "--account", f"e2e:{SMPP_PASSWORD}", "--latency-ms", "100",
                       "--receipt-delay-ms", "50", "--reply-share", "0.2",
                       "--reply-delay-ms", "50", "--log-level", "DEBUG")
    simulator = await start_simulator(reaper, tmp_path, *simulator_flags)
    # A second gateway over SMPP, bound but unused: its password must not show either.
    smpp = (f'\n[gateways.smpp]\ntype = "smpp"\nport = {smpp_port}\nsystem_id = "e2e"\n'
            f'password = "{SMPP_PASSWORD}"\nsender = "36111"\nsource_ton = 3\n')
    # One line at LINE_RATE: the campaign lasts long enough (COUNT / LINE_RATE s of
    # sending) for the test to pause it, however busy the host, and still finishes.
    smpp += (f'\n[pools.steady]\ngateway = "default"\nrate = {LINE_RATE}\nburst = 5\n'
             f'concurrency = 10\n'
             f'lines = [{{ numbers = ["36111"] }}]\n')
    config = write_config(tmp_path / "dispatch.toml", settings, http_port, consumer="logs-e2e",
                          batch_size=5, inbound_port=free_port(), tables=smpp)
    (tmp_path / "c.csv").write_text(csv_rows())
    result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "logs",
                           "--pool", "steady",
                           "--text", "Parti Test. STOP au 36111", "--config", str(config),
                           "--json")
    assert json.loads(result.stdout)["accepted"] == COUNT, result.stderr.decode()
    daemon = await start_child("daemon", dispatch_command(
        "run", "--config", str(config), "--log-format", "json", "--log-level", "DEBUG"),
        tmp_path / "daemon.log")
    reaper.append(daemon)
    log = tmp_path / "daemon.log"

    await said(log, "campaign_started")
    await campaign(config, "pause")
    await said(log, "campaign_paused")
    # The gateway goes away while nothing is sent; sending again finds it gone.
    assert await simulator.stop() == 0
    await campaign(config, "resume")
    await said(log, "campaign_resumed")
    await said(log, "outage_started", "gateway")
    await trio.sleep(1)  # a while, in the daemon's time: each retry fails again
    second = await start_child("simulator-2", dispatch_command(
        "simulator", "--seed", "4", "--callback-secret", CALLBACK_SECRET, *simulator_flags),
        tmp_path / "simulator-2.log")
    reaper.append(second)
    await said(log, "outage_ended", "gateway")
    # Redis goes away (its AOF keeps the campaign) and comes back on the same port; the
    # campaign may have finished by then (the daemon took every message at once): the
    # daemon's reads and checks of Redis go on all the same.
    await stop_redis(redis_port)
    await said(log, "outage_started", "redis")
    restarted = await start_redis(tmp_path, redis_port)
    try:
        await said(log, "outage_ended", "redis")
        counts = await wait_until_final(config, "logs", COUNT, [daemon, second])
        assert counts["queued"] == 0
        await said(log, "campaign_finished")
        outputs = await shown(daemon, second, config)
        assert await daemon.stop() == 0
        assert await second.stop() == 0
    finally:
        restarted.terminate()
        await restarted.wait()
    return outputs


async def shown(daemon: Child, simulator: Child, config: Path) -> dict[str, str]:
    """What the run shows outside its logs, as text; a forged post first (its refusal is
    counted in the metrics and logged)."""
    inbound = f"http://127.0.0.1:{daemon.ready['inbound_port']}"
    metrics = f"http://127.0.0.1:{daemon.ready['metrics_port']}"
    async with httpx.AsyncClient() as client:
        forged = await client.post(f"{inbound}/inbound?gateway=default", json=[
            {"from": "+33" + NATIONAL[0][1:], "to": "36111", "text": "START"}])
        assert forged.status_code == 401
        pages = {"forged": forged.text,
                 "metrics": (await client.get(f"{metrics}/metrics")).text,
                 "healthz": (await client.get(f"{inbound}/healthz")).text,
                 "metrics_healthz": (await client.get(f"{metrics}/healthz")).text,
                 "stats": (await client.get(
                     f"http://127.0.0.1:{simulator.ready['http_port']}/stats")).text}
    status = await run_cli("status", "--config", str(config), "--json")
    assert status.returncode == 0, status.stderr.decode()
    return {**pages, "status": status.stdout.decode() + status.stderr.decode()}


async def campaign(config: Path, action: str) -> None:
    result = await run_cli("campaign", action, "logs", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()


async def said(log: Path, event: str, dependency: str = "", count: int = 1) -> None:
    """Until the daemon's log holds `count` lines of `event` (of `dependency`)."""
    while True:
        text = await trio.Path(log).read_text()
        lines = [json.loads(line) for line in text.splitlines() if line]
        if sum(1 for line in lines if line.get("event") == event
               and line.get("dependency", "") == dependency) >= count:
            return
        await trio.sleep(0.1)


async def start_redis(folder: Path, port: int) -> trio.Process:
    """redis-server on loopback `port`, with a password, AOF in `folder`; once it answers."""
    process = await trio.lowlevel.open_process(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--dir", str(folder), "--requirepass", REDIS_PASSWORD,
         "--logfile", str(folder / "redis-server.txt")])
    while True:
        assert process.returncode is None, "redis-server exited"
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            await trio.sleep(0.05)
            continue
        async with stream:
            await stream.send_all(f"AUTH {REDIS_PASSWORD}\r\nPING\r\n".encode())
            answer = b""
            while b"PONG" not in answer and b"LOADING" not in answer:
                chunk = await stream.receive_some(64)
                if not chunk:
                    break
                answer += chunk
        if b"PONG" in answer:
            return process
        await trio.sleep(0.05)


async def stop_redis(port: int) -> None:
    """SHUTDOWN: the AOF is written, the server exits (and closes the connection)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"AUTH {REDIS_PASSWORD}\r\nSHUTDOWN\r\n".encode())
        while await stream.receive_some(64):  # until it closes the connection
            pass


def read_logs(folder: Path) -> dict[str, str]:
    """Every log of the run: the daemon's and the simulators' (not redis-server's own)."""
    return {path.name: path.read_text(errors="replace") for path in folder.glob("*.log")}


def numbers_in(text: str) -> list[str]:
    """The campaign's numbers `text` holds, however written (+33 6.., 06.., 336.., spaced):
    any run of digits (single spaces, dots or dashes between them allowed) that contains
    one's 9-digit national significant number."""
    wanted = {number[1:] for number in NATIONAL}
    found: list[str] = []
    for run in re.findall(r"\d(?:[ .-]?\d)*", text):
        digits = re.sub(r"\D", "", run)
        found.extend(digits[i:i + 9] for i in range(len(digits) - 8)
                     if digits[i:i + 9] in wanted)
    return found
