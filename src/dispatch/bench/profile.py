"""The top costs of each profiled process (`--profile DIR`: cProfile files DIR/NAME.prof).

For each process: the functions with the most own time, and own time summed by area (a
dispatch module, a library, a built-in), as shares of the process's profiled time. The
time in `select.epoll.poll` is the event loop waiting: idle, not work.
"""

from __future__ import annotations

import pstats
from collections import Counter
from pathlib import Path
from typing import Any

TOP = 15
FunctionKey = tuple[str, int, str]


def top_costs(folder: Path, top: int = TOP) -> dict[str, dict[str, Any]]:
    """{process: {"total_s", "functions": [...], "areas": [...]}}, by own time."""
    return {path.stem: _summary(path, top) for path in sorted(folder.glob("*.prof"))}


def _summary(path: Path, top: int) -> dict[str, Any]:
    entries: dict[FunctionKey, tuple[Any, ...]] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    rows = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    functions = [{"function": function_name(key), "calls": value[1],
                  "own_s": round(value[2], 3), "cumulative_s": round(value[3], 3),
                  "own_share": round(value[2] / total, 3)} for key, value in rows]
    areas: Counter[str] = Counter()
    for key, value in entries.items():
        areas[area(key)] += value[2]
    return {"total_s": round(total, 2), "functions": functions,
            "areas": [{"area": name, "own_s": round(own, 3), "own_share": round(own / total, 3)}
                      for name, own in areas.most_common(top)]}


def function_name(key: FunctionKey) -> str:
    filename, line, function = key
    if filename == "~":
        return function  # a built-in
    parts = Path(filename).parts
    short = "/".join(parts[parts.index("dispatch"):]) if "dispatch" in parts else \
        "/".join(parts[-2:])
    return f"{short}:{line}({function})"


def area(key: FunctionKey) -> str:
    """dispatch/<package>/<module>.py, a library's name, 'stdlib', or the built-in."""
    filename, _, function = key
    if filename == "~":
        return function
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    parts = Path(filename).parts
    if "dispatch" in parts:
        return "/".join(parts[parts.index("dispatch"):])
    return "stdlib"
