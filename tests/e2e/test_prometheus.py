"""A real Prometheus scraping a real `dispatch run --processes 2` during campaigns (SMS over
HTTP, SMS over an SMPP pool of lines, calls over a voice pool), with the rules of
deploy/prometheus: every query of the Grafana dashboard (deploy/grafana) returns data, no
alert expression holds while all is well, and stopping the gateway (the simulator) makes
DispatchGatewayDown fire. Everything on 127.0.0.1; every wait bounded."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import trio
import yaml

from dispatch.policy.sending import Action, Schedule, SlotPolicies, send_policy
from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import Settings
from tests.e2e.every_gateway import ACCOUNT, write_daemon_config
from tests.e2e.harness import free_port, run_cli, start_simulator
from tests.real_tools import real_tool
from tests.texts import SIGNED

ROOT = Path(__file__).resolve().parents[2]
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "dispatch-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dispatch-dashboard.json"
JOB = "dispatch"
# Grafana's variables as an operator sees them with "All" selected; $__rate_interval is
# what Grafana would pick for a short range scraped every second, made wide enough for
# the run's events.
VARIABLES = {"datasource": "", "instance": ".*", "campaign": ".*", "__rate_interval": "1m"}
READY_S = 30.0  # Prometheus up and answering
DATA_S = 150.0  # until every dashboard query has returned data once
FIRE_S = 60.0  # from the gateway's stop to DispatchGatewayDown firing


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every target of every panel, variables substituted."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"{panel['title']!r} {target['refId']}", substitute(target["expr"])


def variable_queries() -> Iterator[tuple[str, str, str]]:
    """(variable, series selector, label) of every `label_values(...)` variable."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"])
            assert found, f"variable {variable['name']}: {variable['query']!r} not understood"
            yield variable["name"], substitute(found[1]), found[2]


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in VARIABLES, f"dashboard variable ${name} unknown to this test"
        return VARIABLES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def daemon_config(path: Path, settings: Settings, simulator: Child) -> Path:
    return write_daemon_config(path, settings, simulator, consumer="prom")


def closed_slot() -> str:
    """A daily one-hour slot twelve hours away from now in mainland France: a call to a
    recipient who consented to it waits for it (dispatch_messages_waiting_for_window)."""
    hour = (dt.datetime.now(ZoneInfo("Europe/Paris")).hour + 12) % 24
    slot = f"daily {hour:02d}:00-{hour + 1:02d}:00"
    policy = SlotPolicies(send_policy(Schedule("always", channel="voice"))).for_slot(slot)
    now = dt.datetime.now(dt.UTC).timestamp()
    assert policy.decide_zone("Europe/Paris", now).action is Action.WAIT
    return slot


async def enqueue(config: Path, path: Path, rows: list[str], campaign: str, *args: str
                  ) -> None:
    """Write `rows` (a header first) to `path` and enqueue them all as `campaign`."""
    await trio.Path(path).write_text("".join(f"{row}\n" for row in rows))
    result = await run_cli("enqueue", str(path), "--campaign", campaign, "--config",
                           str(config), "--json", *args)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["accepted"] == len(rows) - 1, result.stdout.decode()


async def load_campaigns(config: Path, tmp_path: Path) -> None:
    """SMS over HTTP (about 20/s: slow answers, two requests at a time per worker), SMS over
    the SMPP pool (10 lines at 2/s), and calls, some of them for a slot closed now."""
    await enqueue(config, tmp_path / "http.csv",
                  ["phone", *(f"06{10_000_000 + i:08d}" for i in range(4000))],
                  "sms-http", "--gateway", "http", "--text", SIGNED)
    await enqueue(config, tmp_path / "pool.csv",
                  ["phone", *(f"07{50_000_000 + i:08d}" for i in range(3000))],
                  "sms-pool", "--pool", "lines", "--text", SIGNED)
    consented = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    slot = closed_slot()
    await enqueue(config, tmp_path / "calls.csv", [
        "phone,consent_source,consent_date,consent_slot",
        *(f"06{30_000_000 + i:08d},web,{consented},{slot if i % 10 == 0 else ''}"
          for i in range(200))],
        "calls", "--channel", "voice", "--pool", "callers", "--say", "Votez le 11 avril.",
        "--consent-required")


def prometheus_files(tmp_path: Path, metrics_ports: list[int]) -> Path:
    """The deploy/ scrape config and rules, scraping these workers every second, with
    DispatchGatewayDown firing after 1 s instead of 1 min."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    (down,) = [rule for group in rules["groups"] for rule in group["rules"]
               if rule.get("alert") == "DispatchGatewayDown"]
    down["for"] = "1s"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s",
                            scrape_timeout="1s")
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in metrics_ports]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    return tmp_path / "prometheus.yml"


async def start_prometheus(reaper: list[Child], tmp_path: Path, config: Path, port: int
                           ) -> Child:
    with (tmp_path / "prometheus.log").open("ab") as log:
        process = await trio.lowlevel.open_process(
            [real_tool("prometheus", "prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=tmp_path)
    child = Child("prometheus", process, {})
    reaper.append(child)
    return child


async def wait_ready(api: httpx.AsyncClient, prometheus: Child, log: Path) -> None:
    with trio.fail_after(READY_S):
        while True:
            assert prometheus.process.returncode is None, f"prometheus exited: {tail(log)}"
            try:
                if (await api.get("/-/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.2)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def query(api: httpx.AsyncClient, expr: str) -> list[dict[str, Any]]:
    reply = (await api.get("/api/v1/query", params={"query": expr})).json()
    assert reply["status"] == "success", f"{expr}: {reply.get('error')}"
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one sample that a panel can draw (a NaN, 0/0 or a quantile of nothing,
    draws nothing)."""
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


async def rules_loaded(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    groups = (await api.get("/api/v1/rules")).json()["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


async def alerts(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get("/api/v1/alerts")).json()["data"]["alerts"]
    return found


async def until_every_query_has_data(api: httpx.AsyncClient, children: list[Child]
                                     ) -> dict[str, str]:
    """Poll every dashboard query until each has returned data once; what never did."""
    waiting = dict(dashboard_queries())
    variables = {name: (selector, label) for name, selector, label in variable_queries()}
    with trio.move_on_after(DATA_S):
        while waiting or variables:
            for where, expr in list(waiting.items()):
                if has_data(await query(api, expr)):
                    del waiting[where]
            for name, (selector, label) in list(variables.items()):
                reply = (await api.get("/api/v1/series", params={"match[]": selector})).json()
                if any(label in series for series in reply["data"]):
                    del variables[name]
            for child in children:
                assert child.process.returncode is None, f"{child.name} exited early"
            await trio.sleep(1.0)
    return waiting | {f"variable ${name}": f"label_values({selector}, {label})"
                      for name, (selector, label) in variables.items()}


async def test_prometheus_sees_every_panel_no_alert_while_healthy_and_the_gateway_down(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    real_tool("prometheus", "prometheus")
    with trio.fail_after(DATA_S + FIRE_S + 150):
        simulator = await start_simulator(
            reaper, tmp_path, "--smpp-port", "0", "--account", "e2e:secret",
            "--voice-account", f"{ACCOUNT}:token", "--latency-ms", "200",
            "--error-429", "0.01", "--receipt-delay-ms", "100", "--reply-share", "0.005",
            "--call-ring-ms", "20", "--call-duration-ms", "1500",
            "--call-duration-jitter-ms", "1000")
        config = daemon_config(tmp_path / "dispatch.toml", settings, simulator)
        await load_campaigns(config, tmp_path)
        daemons = await start_child("supervisor", dispatch_command(
            "run", "--config", str(config), "--processes", "2"), tmp_path / "daemons.log")
        reaper.append(daemons)
        ports = [worker["metrics_port"] for worker in daemons.ready["workers"]]
        port = free_port()
        prometheus = await start_prometheus(
            reaper, tmp_path, prometheus_files(tmp_path, ports), port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     timeout=10.0) as api:
            await wait_ready(api, prometheus, tmp_path / "prometheus.log")
            loaded = await rules_loaded(api)
            assert len(loaded) == sum(len(group["rules"]) for group in yaml.safe_load(
                RULES.read_text(encoding="utf-8"))["groups"])

            # Every panel has something to draw during the campaigns.
            empty = await until_every_query_has_data(api, [daemons, simulator])
            assert not empty, "dashboard queries that never returned data:\n" + "\n".join(
                f"  {where}: {expr}" for where, expr in empty.items())

            # All is well: no alert expression holds, none is pending or firing, and
            # every rule evaluates without error.
            holding = {rule["name"]: result for rule in await rules_loaded(api)
                       if rule["type"] == "alerting"
                       and (result := await query(api, rule["query"]))}
            assert holding == {}, f"alert expressions that hold on a healthy run: {holding}"
            assert await alerts(api) == []
            broken = [(rule["name"], rule.get("lastError")) for rule in await rules_loaded(api)
                      if rule["health"] != "ok"]
            assert broken == []

            # The gateway goes away: DispatchGatewayDown fires (for: 1 s in this copy).
            await simulator.stop()
            firing: set[str] = set()
            with trio.move_on_after(FIRE_S):
                while not {"http", "smpp"} <= firing:
                    firing = {alert["labels"]["gateway"] for alert in await alerts(api)
                              if alert["labels"]["alertname"] == "DispatchGatewayDown"
                              and alert["state"] == "firing"}
                    await trio.sleep(0.5)
            assert {"http", "smpp"} <= firing, f"DispatchGatewayDown firing for {firing}"
            (alert, *_) = [alert for alert in await alerts(api)
                           if alert["labels"]["alertname"] == "DispatchGatewayDown"]
            assert alert["labels"]["severity"] == "critical"
            assert "unreachable" in alert["annotations"]["summary"]

        await daemons.stop(timeout_s=60)
        prometheus.process.send_signal(signal.SIGTERM)
        with trio.move_on_after(30):
            await prometheus.process.wait()
