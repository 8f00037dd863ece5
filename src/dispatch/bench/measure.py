"""What the benchmark reads off the processes it runs — parsing is pure, reading is /proc.

- CPU seconds and peak RSS of a process: /proc/<pid>/stat (utime + stime, in clock ticks)
  and /proc/<pid>/status (VmHWM, the high-water mark of the resident set).
- Quantiles of a Prometheus histogram: summed over every series of the metric (every
  daemon, every gateway), then interpolated linearly inside the bucket the rank falls in,
  as PromQL's histogram_quantile does; a bucket's upper bound is lowered to the longest
  possible value when one is known (the run's length); a rank in the +Inf bucket otherwise
  answers the last finite bound (a lower bound of the truth).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_BUCKET = re.compile(r'^(?P<name>[a-zA-Z_:][\w:]*)_bucket\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)')
_LE = re.compile(r'(?:^|,)le="(?P<le>[^"]+)"')


@dataclass(frozen=True, slots=True)
class ProcStats:
    cpu_s: float  # user + system, since the process started
    peak_rss_mb: float  # VmHWM
    rss_mb: float  # VmRSS now


def parse_cpu_ticks(stat: str) -> int:
    """utime + stime from the text of /proc/<pid>/stat. The command name (2nd field) may
    hold spaces and parentheses, so fields are counted from the last ')'."""
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def parse_status_kb(status: str, key: str) -> int:
    """A `Key:   1234 kB` line of /proc/<pid>/status, in kB (0 when absent)."""
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def read_proc(pid: int) -> ProcStats | None:
    """The process's CPU and memory now; None once it has gone."""
    base = Path("/proc") / str(pid)
    try:
        stat = (base / "stat").read_text()
        status = (base / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return ProcStats(cpu_s=parse_cpu_ticks(stat) / CLOCK_TICKS,
                     peak_rss_mb=parse_status_kb(status, "VmHWM") / 1024,
                     rss_mb=parse_status_kb(status, "VmRSS") / 1024)


def read_cpu_s(pid: int) -> float | None:
    """CPU seconds only (one small read), for time series."""
    try:
        return parse_cpu_ticks((Path("/proc") / str(pid) / "stat").read_text()) / CLOCK_TICKS
    except (FileNotFoundError, ProcessLookupError):
        return None


def histogram_buckets(exposition: Iterable[str], metric: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of `metric`, summed over all its series and
    sorted by bound; +Inf is math.inf. `exposition` is Prometheus text, one metric line
    per item (several scrapes may be chained)."""
    totals: dict[float, float] = {}
    for line in exposition:
        match = _BUCKET.match(line)
        if match is None or match["name"] != metric:
            continue
        le = _LE.search(match["labels"])
        if le is not None:
            bound = float(le["le"])  # float("+Inf") is inf
            totals[bound] = totals.get(bound, 0.0) + float(match["value"])
    return sorted(totals.items())


def histogram_quantile(q: float, buckets: list[tuple[float, float]],
                       most: float = math.inf) -> float | None:
    """The q-quantile (0 < q < 1) of cumulative buckets; None when nothing was observed.
    `most`: a value no observation can exceed (e.g. how long the run lasted), which
    narrows a wide top bucket (60 to 300 s) and the +Inf one."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            upper = min(bound, max(most, lower))
            if math.isinf(upper):
                return lower  # the last finite bound: all we know is "more than this"
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def counter_total(exposition: Iterable[str], metric: str, label: str = "") -> float:
    """The sum of every sample of counter `metric` (its `_total` lines) whose labels
    contain `label` (e.g. 'outcome="retried"'; empty: all)."""
    total = 0.0
    prefix = f"{metric}_total"
    for line in exposition:
        if line.startswith(prefix) and label in line:
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name == prefix:
                total += float(line.rsplit(" ", 1)[1])
    return total
