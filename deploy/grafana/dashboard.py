"""The Grafana dashboard of the dispatch daemon, built as code with grafana-foundation-sdk.

    .venv/bin/python deploy/grafana/dashboard.py           # (re)writes dispatch-dashboard.json
    .venv/bin/python deploy/grafana/dashboard.py --check   # exit 1 if that file is not current

Edit this file, never the JSON: tests/deploy/test_rules.py checks that the JSON is this
module's output, and tests/e2e/test_prometheus.py runs every query of it against a real
Prometheus scraping a real daemon. The campaign panels read the recording rules of
deploy/prometheus/dispatch-rules.yml (campaign:..., campaign_state:...): load them too.

Not part of the daemon (nothing under src/ imports it): grafana-foundation-sdk is a test
extra of the project, installed by `make` into .venv.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders.bargauge import Panel as BarGauge
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.statetimeline import Panel as StateTimeline
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as TimeSeries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).with_name("dispatch-dashboard.json")
UID = "dispatch-overview"
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job="dispatch"'  # the scrape job of deploy/prometheus/prometheus.yml
INSTANCE = 'instance=~"$instance"'
CAMPAIGN = 'campaign=~"$campaign"'
RATE = "[$__rate_interval]"
SETTLED = "delivered|failed|expired|suppressed|cancelled"

Query = tuple[str, str]  # (PromQL, legend)
AnyPanel = TimeSeries | Stat | BarGauge | StateTimeline | Table


def target(expr: str, legend: str, ref_id: str, *, instant: bool = False,
           table: bool = False) -> Dataquery:
    query = (Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)
             .datasource(DATASOURCE))
    if table:
        query = query.format(PromQueryFormat.TABLE)
    return query.instant() if instant else query.range()


def with_targets(panel: AnyPanel, queries: Sequence[Query], *, instant: bool = False,
                 table: bool = False) -> AnyPanel:
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(target(expr, legend, chr(ord("A") + index),
                                         instant=instant, table=table))
    return panel.datasource(DATASOURCE)


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(
        [models.Threshold(value=value, color=color) for value, color in steps])


def legend() -> common_builders.VizLegendOptions:
    return (common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM).show_legend(True)
            .calcs(["lastNotNull", "max"]))


def graph(title: str, description: str, unit: str, queries: Sequence[Query], *,
          width: int = 12, height: int = 8, limit: float | None = None,
          minimum: float | None = 0, stacked: bool = False) -> TimeSeries:
    """A time series; `limit`: a red line at the alert's threshold."""
    panel = (TimeSeries().title(title).description(description).unit(unit)
             .span(width).height(height).legend(legend()).fill_opacity(10).line_width(1))
    if minimum is not None:
        panel = panel.min(minimum)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(
            common.StackingMode.NORMAL)).fill_opacity(40)
    if limit is not None:
        panel = (panel.thresholds(thresholds((None, "green"), (limit, "red")))
                 .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(
                     common.GraphThresholdsStyleMode.LINE)))
    result = with_targets(panel, queries)
    assert isinstance(result, TimeSeries)
    return result


def stat(title: str, description: str, unit: str, queries: Sequence[Query],
         steps: Sequence[tuple[float | None, str]], *, width: int = 4) -> Stat:
    panel = (Stat().title(title).description(description).unit(unit).span(width).height(4)
             .graph_mode(common.BigValueGraphMode.AREA)
             .color_mode(common.BigValueColorMode.BACKGROUND)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
             .thresholds(thresholds(*steps)))
    result = with_targets(panel, queries)
    assert isinstance(result, Stat)
    return result


def bars(title: str, description: str, unit: str, queries: Sequence[Query], *,
         width: int = 12, maximum: float | None = None) -> BarGauge:
    panel = (BarGauge().title(title).description(description).unit(unit).span(width)
             .height(8).min(0).display_mode(common.BarGaugeDisplayMode.GRADIENT)
             .orientation(common.VizOrientation.HORIZONTAL)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
             .thresholds(thresholds((None, "blue"))))
    if maximum is not None:
        panel = panel.max(maximum)
    result = with_targets(panel, queries, instant=True)
    assert isinstance(result, BarGauge)
    return result


def up_down(title: str, description: str, queries: Sequence[Query]) -> StateTimeline:
    mapping = models.ValueMap(options={
        "0": models.ValueMappingResult(text="down", color="red", index=0),
        "1": models.ValueMappingResult(text="up", color="green", index=1),
    })
    panel = (StateTimeline().title(title).description(description).span(12).height(8)
             .mappings([mapping]).thresholds(thresholds((None, "red"), (1, "green")))
             .show_value(common.VisibilityMode.NEVER).merge_values(True))
    result = with_targets(panel, queries)
    assert isinstance(result, StateTimeline)
    return result


def overview() -> list[AnyPanel]:
    return [
        stat("Processes up", "Daemon processes Prometheus scrapes right now (one per "
             "`--processes` worker), of those it should.", "short",
             [(f"sum(up{{{JOB},{INSTANCE}}})", "up")], [(None, "red"), (1, "green")]),
        stat("Ready", "Processes that told systemd READY=1 (Redis answers, gateways bound "
             "or reported) and are not stopping.", "short",
             [(f"sum(dispatch_ready{{{INSTANCE}}})", "ready")], [(None, "red"), (1, "green")]),
        stat("Submitted / s", "Messages the gateways accepted per second, all gateways.",
             "short", [(f'sum(rate(dispatch_messages_total{{outcome="submitted",{INSTANCE}}}'
                        f"{RATE}))", "submitted")], [(None, "blue")]),
        stat("Delivery ratio (15 min)", "Delivered among delivered + failed receipts over "
             "15 minutes (the alert DispatchDeliveryRatioDrop fires under 80 %).",
             "percentunit", [(DELIVERY_RATIO, "delivered")],
             [(None, "red"), (0.8, "orange"), (0.9, "green")]),
        stat("Queued", "Messages queued and not yet taken, all campaigns.", "short",
             [(f"sum(max by (campaign) (dispatch_queue_depth{{{CAMPAIGN}}}))", "queued")],
             [(None, "blue")]),
        stat("Opt-outs (15 min)", "STOP replies per message submitted over 15 minutes "
             "(the alert DispatchOptOutSpike fires over 2 %).", "percentunit",
             [(OPT_OUT_RATIO, "opt-outs")], [(None, "green"), (0.01, "orange"), (0.02, "red")]),
    ]


DELIVERY_RATIO = (
    f'sum(rate(dispatch_receipts_total{{result="delivered",{INSTANCE}}}[15m]))'
    f' / sum(rate(dispatch_receipts_total{{result=~"delivered|failed",{INSTANCE}}}[15m]))')
OPT_OUT_RATIO = (
    f'sum(rate(dispatch_inbound_messages_total{{intent="opt_out",{INSTANCE}}}[15m]))'
    f' / sum(rate(dispatch_messages_total{{outcome="submitted",{INSTANCE}}}[15m]))')


def throughput() -> list[AnyPanel]:
    return [
        graph("Throughput", "Submitted: messages a gateway accepted, per gateway. "
              "Delivered and failed: final receipts (all gateways; receipts carry no "
              "gateway). Final receipts per gateway: every final receipt, whatever it said.",
              "short", [
                  (f'sum by (gateway) (rate(dispatch_messages_total{{outcome="submitted",'
                   f"{INSTANCE}}}{RATE}))", "submitted {{gateway}}"),
                  (f"sum by (gateway) (rate(dispatch_receipt_latency_seconds_count"
                   f"{{{INSTANCE}}}{RATE}))", "final receipts {{gateway}}"),
                  (f'sum by (result) (rate(dispatch_receipts_total{{result=~"delivered|'
                   f'failed|expired",{INSTANCE}}}{RATE}))', "{{result}}"),
              ]),
        graph("Delivery ratio", "Delivered among delivered + failed receipts, over 15 "
              "minutes as the alert sees it; the red line is its threshold.", "percentunit",
              [(DELIVERY_RATIO, "delivered / (delivered + failed)")], limit=0.8),
    ]


def campaigns() -> list[AnyPanel]:
    return [
        bars("Campaign progress", "Settled messages (delivered, failed, expired, "
             "suppressed, cancelled) of all messages, per live campaign.", "percentunit",
             [(f"campaign:dispatch_campaign_progress:ratio{{{CAMPAIGN}}}", "{{campaign}}")],
             maximum=1),
        bars("Campaign ETA", "Time until every message of the campaign is settled at the "
             "pace of the last 10 minutes; none while nothing settles (paused, window "
             "closed, stalled).", "s",
             [(f"campaign:dispatch_campaign_eta:seconds{{{CAMPAIGN}}}", "{{campaign}}")]),
        graph("Queue depth per campaign", "Messages queued in Redis and not yet taken by a "
              "daemon. A campaign whose window is closed in mainland France, or paused, "
              "stays here.", "short",
              [(f"max by (campaign) (dispatch_queue_depth{{{CAMPAIGN}}})", "{{campaign}}")]),
        graph("Messages waiting for their window", "Messages a daemon holds until the "
              "sending window opens in the recipient's zone (overseas departments), per "
              "campaign, all daemons.", "short",
              [(f"sum by (campaign) (dispatch_messages_waiting_for_window{{{CAMPAIGN},"
                f"{INSTANCE}}})", "{{campaign}}")]),
        graph("Messages by state", "Each live campaign's messages by state (read from "
              "Redis).", "short",
              [(f"campaign_state:dispatch_campaign_messages:max{{{CAMPAIGN}}}",
                "{{campaign}} {{state}}")], width=24, stacked=True),
    ]


def lines_and_gateways() -> list[AnyPanel]:
    return [
        graph("Line utilisation per pool", "Busy lines among the lines leased, per pool, "
              "all daemons; near 1 the pool is the bottleneck.", "percentunit",
              [(f"sum by (pool) (dispatch_lines_busy{{{INSTANCE}}}) / sum by (pool) "
                f"(dispatch_lines{{{INSTANCE}}} > 0)", "{{pool}}")]),
        graph("Messages waiting for a line", "Messages held for a free line of their pool, "
              "per gateway (paused campaigns' included).", "short",
              [(f"sum by (gateway) (dispatch_messages_waiting_for_line{{{INSTANCE}}})",
                "{{gateway}}")]),
        up_down("Gateway up", "Per gateway and daemon: SMPP while a bind is bound, HTTP and "
                "voice while requests get an HTTP answer (DispatchGatewayDown after 1 min "
                "down).", [(f"dispatch_gateway_up{{{INSTANCE}}}", "{{gateway}} {{instance}}")]),
        up_down("Route members in service", "Per route, member gateway and daemon: in "
                "service, or out after failing (its messages go to the route's other "
                "members; DispatchRouteMemberOut after 2 min out).",
                [(f"dispatch_route_member_in_service{{{INSTANCE}}}",
                  "{{route}}: {{gateway}} {{instance}}")]),
        graph("SMPP binds", "SMPP binds per gateway, bound and not, all daemons.", "short",
              [(f"sum by (gateway, state) (dispatch_smpp_binds{{{INSTANCE}}})",
                "{{gateway}} {{state}}")]),
        graph("Gateway errors by code", "Error answers and transport failures per gateway "
              "and code (SMPP command_status, HTTP status, or timeout / "
              "connection_refused / disconnected); submissions retried and failed.",
              "short", [
                  (f"sum by (gateway, code) (rate(dispatch_gateway_errors_total{{{INSTANCE}}}"
                   f"{RATE}))", "{{gateway}} {{code}}"),
                  (f'sum by (gateway, outcome) (rate(dispatch_messages_total{{outcome=~'
                   f'"failed|retried",{INSTANCE}}}{RATE}))', "{{gateway}} {{outcome}}"),
              ]),
        graph("Submit latency", "Time for a gateway to answer a submission (one message or "
              "a batch), per gateway.", "s", [
                  (f"histogram_quantile({q}, sum by (gateway, le) (rate("
                   f"dispatch_submit_latency_seconds_bucket{{{INSTANCE}}}{RATE})))",
                   f"p{round(q * 100)} {{{{gateway}}}}") for q in (0.5, 0.99)]),
    ]


def receipts_and_recipients() -> list[AnyPanel]:
    return [
        graph("Receipt latency", "From the gateway's acceptance to the final receipt, per "
              "gateway (DispatchReceiptsLagging: p90 over 10 min, over 15 minutes).", "s", [
                  (f"histogram_quantile({q}, sum by (gateway, le) (rate("
                   f"dispatch_receipt_latency_seconds_bucket{{{INSTANCE}}}{RATE})))",
                   f"p{round(q * 100)} {{{{gateway}}}}") for q in (0.5, 0.9, 0.99)]),
        graph("Opt-out rate", "STOP replies per message submitted, over 15 minutes; the red "
              "line is the alert's threshold.", "percentunit",
              [(OPT_OUT_RATIO, "opt-outs / submitted")], limit=0.02),
        graph("Messages from recipients", "Replies stored per second, by what they were "
              "taken for (opt_out, opt_in, help, reply).", "short",
              [(f"sum by (intent) (rate(dispatch_inbound_messages_total{{{INSTANCE}}}"
                f"{RATE}))", "{{intent}}")]),
    ]


def daemon_health() -> list[AnyPanel]:
    return [
        graph("Redis errors", "Redis operations that failed and were retried, per "
              "operation (DispatchRedisErrors fires on any).", "short",
              [(f"sum by (operation) (rate(dispatch_redis_errors_total{{{INSTANCE}}}"
                f"{RATE}))", "{{operation}}")]),
        graph("Event-loop lag", "How late a 1-second timer wakes in each process "
              "(DispatchEventLoopLagging over 1 s for 2 min; the systemd watchdog restarts a "
              "process whose loop stops).", "s",
              [(f"max by (instance) (dispatch_event_loop_lag_seconds{{{INSTANCE}}})",
                "{{instance}}")], limit=1),
        graph("Messages in process", "Messages each process holds (admitted, not yet "
              "recorded).", "short",
              [(f"dispatch_in_process_messages{{{INSTANCE}}}", "{{instance}}")]),
        graph("Memory", "Resident memory per process (the unit's MemoryMax applies to "
              "all of them together).", "bytes",
              [(f"process_resident_memory_bytes{{{JOB},{INSTANCE}}}", "{{instance}}")]),
        graph("CPU", "CPU time per process, in cores.", "short",
              [(f"rate(process_cpu_seconds_total{{{JOB},{INSTANCE}}}{RATE})", "{{instance}}")]),
        version_table(),
    ]


def version_table() -> Table:
    panel = (Table().title("Versions").description("Each process's dispatch and Python "
                                                   "versions (dispatch_build_info).")
             .span(12).height(8))
    result = with_targets(panel, [(f"dispatch_build_info{{{INSTANCE}}}", "")],
                          instant=True, table=True)
    assert isinstance(result, Table)
    return result


def calls() -> list[AnyPanel]:
    return [
        graph("Calls by outcome", "Calls that ended per second, by outcome; retried: "
              "called again, opted_out: 9 pressed.", "short",
              [(f"sum by (outcome) (rate(dispatch_calls_total{{{INSTANCE}}}{RATE}))",
                "{{outcome}}")]),
        graph("Calls in progress and duration", "Calls placed and not ended; connected "
              "time of the calls that ended (p50, p90).", "short", [
                  (f"sum(dispatch_calls_in_progress{{{INSTANCE}}})", "in progress"),
                  *[(f"histogram_quantile({q}, sum by (le) (rate("
                     f"dispatch_call_duration_seconds_bucket{{{INSTANCE}}}{RATE})))",
                     f"duration p{round(q * 100)} (s)") for q in (0.5, 0.9)],
              ]),
    ]


def rows() -> list[tuple[str, list[AnyPanel]]]:
    return [
        ("Overview", overview()),
        ("Throughput", throughput()),
        ("Campaigns", campaigns()),
        ("Lines and gateways", lines_and_gateways()),
        ("Receipts and recipients", receipts_and_recipients()),
        ("Daemon", daemon_health()),
        ("Calls", calls()),
    ]


def variables() -> list[Builder[models.VariableModel]]:
    return [
        DatasourceVariable("datasource").label("Data source").type("prometheus"),
        (QueryVariable("instance").label("Process").datasource(DATASOURCE)
         .query(f"label_values(up{{{JOB}}}, instance)")
         .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(
             models.VariableSort.ALPHABETICAL_ASC)
         .multi(True).include_all(True).all_value(".*")),
        (QueryVariable("campaign").label("Campaign").datasource(DATASOURCE)
         .query("label_values(dispatch_campaign_messages, campaign)")
         .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(
             models.VariableSort.ALPHABETICAL_ASC)
         .multi(True).include_all(True).all_value(".*")),
    ]


def build() -> Dashboard:
    board = (Dashboard("dispatch").uid(UID).description(
        "The dispatch daemon: throughput, delivery, campaigns' progress and ETA, lines, "
        "gateways, receipts, opt-outs, Redis and the event loop. Generated by "
        "deploy/grafana/dashboard.py; alerts in deploy/prometheus/dispatch-rules.yml.")
        .tags(["dispatch", "sms"]).refresh("30s").time("now-3h", "now")
        .timezone(common.TimeZoneBrowser).tooltip(models.DashboardCursorSync.CROSSHAIR)
        .editable())
    for variable in variables():
        board = board.with_variable(variable)
    panel_id = 0
    for title, panels in rows():
        panel_id += 1
        board = board.with_row(Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            board = board.with_panel(panel.id(panel_id))
    return board


def render() -> str:
    """The dashboard's JSON, as checked in (stable: sorted keys, a final newline)."""
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def main(argv: Sequence[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text:
            return 0
        print(f"{OUTPUT} is not this generator's output: run `.venv/bin/python "
              "deploy/grafana/dashboard.py` and commit the JSON", file=sys.stderr)
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
