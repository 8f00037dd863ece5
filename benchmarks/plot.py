"""Throughput over time of benchmark runs, as PNG line charts (no plotting library).

    python benchmarks/plot.py                       # every benchmarks/results/*.json
    python benchmarks/plot.py results/smpp_1m.json  # just these

For each result with a time series (written by `dispatch bench --output` or
benchmarks/scenarios.py) it writes <result>.png: messages/s enqueued, accepted by the
gateway and final (receipt recorded), per one-second window. It also writes
throughput.png: the end-to-end rate of every scenario, from the moment its daemons started.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dispatch.bench.curves import rates
from dispatch.bench.png import Canvas, Color, text_width

RESULTS = Path(__file__).parent / "results"
WIDTH, HEIGHT = 960, 540
LEFT, RIGHT, TOP, BOTTOM = 100, 30, 60, 80
WINDOW_S = 1.0
PALETTE: tuple[Color, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
                              (148, 103, 189), (140, 86, 75))
INK: Color = (30, 30, 30)
GRID: Color = (225, 225, 225)

Line = tuple[str, Color, list[float], list[float]]


def nice_step(span: float, ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks."""
    raw = span / ticks if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def label(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}K"
    return f"{value:g}"


def chart(title: str, lines: Sequence[Line], x_name: str, y_name: str) -> Canvas:
    canvas = Canvas(WIDTH, HEIGHT)
    x_max = max((max(xs) for _, _, xs, _ in lines if xs), default=1.0) or 1.0
    y_max = max((max(ys) for _, _, _, ys in lines if ys), default=1.0) or 1.0
    x_step, y_step = nice_step(x_max), nice_step(y_max)
    x_top, y_top = math.ceil(x_max / x_step) * x_step, math.ceil(y_max / y_step) * y_step
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def px(x: float, y: float) -> tuple[int, int]:
        return (round(LEFT + (right - LEFT) * x / x_top),
                round(bottom - (bottom - TOP) * y / y_top))

    _axes(canvas, px, x_step, x_top, y_step, y_top)
    for _name, color, xs, ys in lines:
        points = [px(x, y) for x, y in zip(xs, ys, strict=True)]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            canvas.line(x0, y0, x1, y1, color, width=2)
    _legend(canvas, lines)
    canvas.text(LEFT, 18, title, INK, scale=3)
    canvas.text((LEFT + right - text_width(x_name)) // 2, HEIGHT - 30, x_name, INK)
    canvas.text(8, TOP - 24, y_name, INK)
    return canvas


def _axes(canvas: Canvas, px: Any, x_step: float, x_top: float, y_step: float,
          y_top: float) -> None:
    for index in range(round(y_top / y_step) + 1):
        value = index * y_step
        x0, y = px(0, value)
        x1, _ = px(x_top, value)
        canvas.line(x0, y, x1, y, GRID)
        canvas.text(x0 - 8 - text_width(label(value)), y - 5, label(value), INK)
    for index in range(round(x_top / x_step) + 1):
        value = index * x_step
        x, y0 = px(value, 0)
        _, y1 = px(value, y_top)
        canvas.line(x, y0, x, y1, GRID)
        canvas.text(x - text_width(label(value)) // 2, y0 + 10, label(value), INK)
    origin, corner = px(0, 0), px(x_top, y_top)
    canvas.line(origin[0], origin[1], corner[0], origin[1], INK)
    canvas.line(origin[0], origin[1], origin[0], corner[1], INK)


def _legend(canvas: Canvas, lines: Sequence[Line]) -> None:
    x = WIDTH - RIGHT - max(text_width(name) for name, *_ in lines) - 40
    for index, (name, color, _, _) in enumerate(lines):
        y = TOP + 10 + index * 22
        canvas.rect(x, y + 2, x + 20, y + 6, color)
        canvas.text(x + 28, y, name, INK)


def stage_lines(series: dict[str, Any], paced: bool) -> list[Line]:
    """Accepted and final per second; enqueued too when it ran beside them (paced): a
    backlog's enqueue is a phase of its own, far above the rest (see its own figure)."""
    lines: list[Line] = []
    names = (("entered", "enqueued"), ("passed", "accepted by gateway"),
             ("final", "final (receipt recorded)"))
    for (key, name), color in zip(names, PALETTE, strict=False):
        if key == "entered" and not paced:
            continue
        xs, ys = rates(series["t"], series[key], WINDOW_S)
        lines.append((name, color, xs, ys))
    return lines


def scenario_chart(name: str, report: dict[str, Any]) -> Canvas:
    title = (f"{name}: {report['per_second']:,.0f}/s end to end, ceiling "
             f"{report.get('ceiling_per_second') or 0:,.0f}/s")
    if not report.get("complete", True):
        title += f" ({report.get('stop_reason', 'incomplete')})"
    paced = report.get("mode") == "paced"
    return chart(title, stage_lines(report["series"], paced), "seconds since the run started",
                 "messages/s")


def overview_chart(reports: dict[str, dict[str, Any]]) -> Canvas:
    lines: list[Line] = []
    for (name, report), color in zip(reports.items(), PALETTE * 3, strict=False):
        series = report["series"]
        xs, ys = rates(series["t"], series["final"], WINDOW_S)
        start = report.get("started_at_s", 0.0)
        kept = [(x - start, y) for x, y in zip(xs, ys, strict=True) if x >= start]
        lines.append((name, color, [x for x, _ in kept], [y for _, y in kept]))
    return chart("end to end throughput (final messages/s)", lines,
                 "seconds since the daemons started", "messages/s")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.results or sorted(RESULTS.glob("*.json"))
    reports = {path.stem: json.loads(path.read_text()) for path in paths}
    reports = {name: report for name, report in reports.items() if report.get("series")}
    for name, report in reports.items():
        target = RESULTS / f"{name}.png" if not args.results else \
            next(p for p in paths if p.stem == name).with_suffix(".png")
        target.write_bytes(scenario_chart(name, report).png())
        print(target)
    if reports:
        overview = (paths[0].parent if args.results else RESULTS) / "throughput.png"
        overview.write_bytes(overview_chart(reports).png())
        print(overview)


if __name__ == "__main__":
    main()
