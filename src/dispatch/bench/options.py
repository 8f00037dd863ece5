"""What one benchmark run is asked to do, with each gateway's defaults — pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

GATEWAYS: Final = ("http", "smpp")
# The SMSC of SMPP runs: the lean one (its CPU a small share of the run's), or the full
# simulator (faults, MO); --faults needs the full one and gets it.
LEAN: Final = "lean"
FULL: Final = "full"
MAX_MESSAGES: Final = 10_000_000
MAX_LINES: Final = 1_000_000
MAX_PARTS: Final = 10  # of the campaign's text
CEILING_CAP: Final = 200_000  # the ceiling's default size: enough for a steady rate
# (batch size, concurrency) per gateway when not given: the demo's HTTP setting, and for
# SMPP enough submissions in flight to fill two binds' windows.
DEFAULT_SHAPE: Final = {"http": (100, 4), "smpp": (100, 8)}


class OptionError(ValueError):
    """An option out of range, named in the message."""


@dataclass(frozen=True)
class BenchOptions:
    gateway: str = "http"
    messages: int = 10_000
    lines: int = 0  # 0: no line limit at the simulator
    line_rate: float = 0.0  # messages/s per line, at the simulator (SMPP source_addr)
    line_burst: float = 0.0  # 0: one second of line_rate, as the simulator counts it
    line_jitter_s: float = 0.05  # the daemon's daemon.line_jitter_s
    # Submissions outstanding per line (the pool's `concurrency`): 1 for a mobile line; a
    # short code at hundreds of messages/s needs about its rate times the answer time.
    line_concurrency: int = 1
    text_parts: int = 1  # SMS parts of the campaign's text (GSM-7)
    batch_size: int = 0  # 0: the gateway's default (DEFAULT_SHAPE)
    concurrency: int = 0
    binds: int = 2
    window: int = 100
    daemons: int = 1
    redis_masters: int = 1  # more than 1: a private Redis Cluster of that many masters
    campaigns: int = 1  # the messages split over this many campaigns
    enqueue_rate: float = 0.0  # 0: enqueue everything, then start the daemons (backlog)
    receipt_delay_ms: float = 100.0
    ceiling_messages: int = -1  # -1: min(messages, CEILING_CAP); 0: no ceiling run
    timeout_s: float = 1800.0
    stall_s: float = 60.0  # stop waiting when no count has moved for this long
    sample_s: float = 0.1
    profile_dir: Path | None = None  # run daemons and simulator under cProfile
    # Simulator flags added to the fault-free gateway: the faults of a run (`dispatch
    # simulator --help`), e.g. ("--no-response", "0.01") for 1 % of answers lost.
    faults: tuple[str, ...] = ()
    simulator: str = LEAN  # LEAN or FULL: the SMSC of SMPP runs (HTTP runs: always FULL)

    @property
    def paced(self) -> bool:
        return self.enqueue_rate > 0

    @property
    def ceiling_size(self) -> int:
        if self.ceiling_messages < 0:
            return min(self.messages, CEILING_CAP)
        return self.ceiling_messages


def checked(options: BenchOptions) -> BenchOptions:
    """The options with defaults filled in; OptionError names the first bad one."""
    _check_ranges(options)
    if options.lines and options.gateway != "smpp":
        raise OptionError("--lines: the simulator limits lines over SMPP only "
                          "(use --gateway smpp)")
    if options.lines and options.line_rate <= 0:
        raise OptionError("--lines needs --line-rate (messages/s per line)")
    if options.line_rate and not options.lines:
        raise OptionError("--line-rate needs --lines (how many lines)")
    batch, concurrency = DEFAULT_SHAPE[options.gateway]
    # The ceiling client paces lines by message and sends a message's parts together: on
    # lines a long text's ceiling would be throttled, not measured.
    ceiling = 0 if options.lines and options.text_parts > 1 else options.ceiling_messages
    # The ceiling is the fault-free rate of the gateway client; a faulty gateway's (lost
    # answers) would stall the blast: none unless asked for.
    if options.faults and options.ceiling_messages < 0:
        ceiling = 0
    return replace(options, batch_size=options.batch_size or batch,
                   concurrency=options.concurrency or concurrency, ceiling_messages=ceiling,
                   simulator=simulator_kind(options))


def simulator_kind(options: BenchOptions) -> str:
    """LEAN for SMPP runs without faults unless FULL is asked for; FULL otherwise (the
    HTTP gateway has no lean mode, faults need the full SMSC)."""
    if options.simulator not in (LEAN, FULL):
        raise OptionError(f"simulator: must be {LEAN} or {FULL}, got {options.simulator!r}")
    if options.gateway != "smpp" or options.faults:
        return FULL
    return options.simulator


def _check_ranges(options: BenchOptions) -> None:
    if options.gateway not in GATEWAYS:
        raise OptionError(f"--gateway: must be one of {', '.join(GATEWAYS)}")
    limits: tuple[tuple[str, float, float, float], ...] = (
        ("--messages", options.messages, 1, MAX_MESSAGES),
        ("--lines", options.lines, 0, MAX_LINES),
        ("--line-rate", options.line_rate, 0, 1e6),
        ("--line-burst", options.line_burst, 0, 1e6),
        ("--line-jitter", options.line_jitter_s, 0, 10),
        ("--text-parts", options.text_parts, 1, MAX_PARTS),
        ("--batch-size", options.batch_size, 0, 10_000),
        ("--concurrency", options.concurrency, 0, 1_000),
        ("--binds", options.binds, 1, 64),
        ("--window", options.window, 1, 10_000),
        ("--daemons", options.daemons, 1, 16),
        ("--redis-masters", options.redis_masters, 1, 16),
        ("--campaigns", options.campaigns, 1, 1000),
        ("--enqueue-rate", options.enqueue_rate, 0, 1e7),
        ("--receipt-delay-ms", options.receipt_delay_ms, 0, 600_000),
        ("--ceiling-messages", options.ceiling_messages, -1, MAX_MESSAGES),
        ("--timeout", options.timeout_s, 1, 86_400),
        ("--stall-timeout", options.stall_s, 1, 86_400),
        ("--sample-s", options.sample_s, 0.01, 10),
    )
    for flag, value, low, high in limits:
        if not low <= value <= high:
            raise OptionError(f"{flag}: must be between {low:g} and {high:g}, got {value:g}")
