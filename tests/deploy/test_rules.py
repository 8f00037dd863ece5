"""deploy/prometheus and deploy/grafana, checked with the real tools: promtool validates the
scrape config and the rules and runs the rules' unit tests (each alert made to fire and
kept quiet with synthetic series); the dashboard's JSON is its generator's output."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.real_tools import real_tool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "dispatch-rules.yml"
RULE_TESTS = PROMETHEUS / "dispatch-rules.test.yml"
DASHBOARD = GRAFANA / "dispatch-dashboard.json"
# The alerts the issue and the shared contract name (more may be added, none removed).
ALERTS = {"DispatchDown", "DispatchQueueStalled", "DispatchDeliveryRatioDrop",
          "DispatchOptOutSpike", "DispatchGatewayDown", "DispatchReceiptsLagging",
          "DispatchRedisErrors", "DispatchEventLoopLagging"}
TOOL_TIMEOUT_S = 120


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    result = subprocess.run([real_tool("promtool", "prometheus"), *args], cwd=cwd,
                            capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in load_yaml(RULES)["groups"]
            for rule in group["rules"] if "alert" in rule}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dispatch_dashboard", GRAFANA / "dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_promtool_accepts_the_scrape_config_and_its_rule_file() -> None:
    output = promtool("check", "config", str(CONFIG))
    assert "1 rule files found" in output


def test_promtool_accepts_the_rules() -> None:
    promtool("check", "rules", str(RULES))


def test_the_rules_pass_their_unit_tests() -> None:
    output = promtool("test", "rules", RULE_TESTS.name)
    assert "SUCCESS" in output


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(alert_rules())
    assert alerts - fired == set(), "alerts never made to fire in dispatch-rules.test.yml"
    assert alerts - quiet == set(), "alerts never shown quiet in dispatch-rules.test.yml"


def test_the_alerts_are_those_named_with_a_severity_and_what_to_do() -> None:
    rules = alert_rules()
    assert ALERTS - set(rules) == set()
    groups = {group["name"] for group in load_yaml(RULES)["groups"]}
    assert "dispatch" in groups
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"], name
        assert len(rule["annotations"]["description"]) > 200, name  # says what to do


def test_the_scrape_job_is_the_one_the_rules_and_dashboard_name() -> None:
    config = load_yaml(CONFIG)
    assert config["rule_files"] == [RULES.name]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "dispatch"]
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert targets == ["127.0.0.1:9470", "127.0.0.1:9471"]  # --processes 2, default port
    assert 'up{job="dispatch"} == 0' in alert_rules()["DispatchDown"]["expr"]


def test_the_checked_in_dashboard_is_the_generator_s_output() -> None:
    assert DASHBOARD.read_text(encoding="utf-8") == generator().render(), (
        "deploy/grafana/dispatch-dashboard.json is stale: run "
        "`.venv/bin/python deploy/grafana/dashboard.py` and commit the JSON")


def test_every_panel_queries_the_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert len(panels) >= 12
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
    titles = {panel["title"] for panel in panels}
    for wanted in ("Throughput", "Delivery ratio", "Queue depth per campaign", "Campaign ETA",
                   "Line utilisation per pool", "Opt-out rate", "Gateway errors by code",
                   "Receipt latency", "Gateway up", "Redis errors", "Event-loop lag"):
        assert wanted in titles
