"""Starting the processes a benchmark measures: simulator and daemons (and their config).

Lines: the simulator enforces `--line-rate` (and `--line-burst`) per SMPP source address,
and the daemon's config declares the same K lines, rate and burst as its gateway's one
pool, so the campaign goes out over them and the run measures the achieved rate against
the lines' capacity; the simulator's `line_violations` show any line driven too fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dispatch.bench.options import LEAN, BenchOptions
from dispatch.processes import Child, dispatch_command, start_child

ACCOUNT = ("bench", "secret")  # SMPP system_id and password, simulator and clients alike
# The HTTP gateway's inbound_secret: the simulator signs receipts and replies with it.
CALLBACK_SECRET = "bench-callback-secret"
SENDER = "BENCH"  # alphanumeric sender when no lines are asked for
FIRST_LINE = 33_700_000_000  # lines are +33700000000, +33700000001, ...


def line_address(index: int) -> str:
    return f"+{FIRST_LINE + index}"


def simulator_flags(options: BenchOptions) -> list[str]:
    """A gateway with no faults, every message delivered, receipts after a fixed delay;
    then the run's faults (--faults), which the simulator's parser checks."""
    flags = ["--http-port", "0", "--profile", "perfect", "--seed", "1",
             "--receipt-delay-ms", f"{options.receipt_delay_ms:g}",
             "--callback-secret", CALLBACK_SECRET]
    if options.gateway == "smpp":
        # A real SMSC stores receipts for days; the simulator's memory guard on those
        # waiting for window room must not drop any of a run's receipts.
        flags += ["--smpp-port", "0", "--account", ":".join(ACCOUNT),
                  "--smpp-window", str(options.window),
                  "--receipts-pending-limit", str(max(200_000, options.messages))]
        if options.simulator == LEAN:
            flags.append("--lean")
    if options.lines:
        flags += ["--line-rate", f"{options.line_rate:g}",
                  "--line-burst", f"{options.line_burst:g}"]
    return flags + list(options.faults)


def sender_of(options: BenchOptions) -> tuple[str, int]:
    """(sender, SMPP source_ton): the first line (international number), else BENCH."""
    return (line_address(0), 1) if options.lines else (SENDER, 5)


def gateway_section(options: BenchOptions, ports: dict[str, int]) -> str:
    sender, ton = sender_of(options)
    common = (f'batch_size = {options.batch_size}\nconcurrency = {options.concurrency}\n'
              f'sender = "{sender}"\n')
    if options.gateway == "http":
        return (f'type = "http"\nurl = "http://127.0.0.1:{ports["http_port"]}"\n'
                f'inbound_secret = "{CALLBACK_SECRET}"\n' + common)
    return (f'type = "smpp"\nport = {ports["smpp_port"]}\nsystem_id = "{ACCOUNT[0]}"\n'
            f'password = "{ACCOUNT[1]}"\nbinds = {options.binds}\nwindow = {options.window}\n'
            f'source_ton = {ton}\nsource_npi = {1 if ton == 1 else 0}\n' + common)


def pool_section(options: BenchOptions) -> str:
    """The simulator's lines as the gateway's pool (see the module docstring)."""
    if not options.lines:
        return ""
    last = line_address(options.lines - 1)
    return (f'\n[pools.bench]\ngateway = "default"\nrate = {options.line_rate:g}\n'
            f'burst = {options.line_burst:g}\nconcurrency = {options.line_concurrency}\n'
            f'lines = [{{ range = "{line_address(0)}-{last}" }}]\n')


def write_daemon_config(path: Path, redis_url: str, consumer: str, options: BenchOptions,
                        ports: dict[str, int], inbound_port: int = 0) -> Path:
    """`inbound_port`: 0 for any; a daemon restarted mid-run needs the same one (the
    gateway posts receipts where the submissions said)."""
    path.write_text(
        f'[redis]\nurl = "{redis_url}"\n\n'
        f'[daemon]\nconsumer = "{consumer}"\ninbound_port = {inbound_port}\n'
        'metrics_port = 0\n'
        f'line_jitter_s = {options.line_jitter_s:g}\n\n'
        f'[gateways.default]\n{gateway_section(options, ports)}{pool_section(options)}')
    return path


def command(options: BenchOptions, name: str, *args: str) -> list[str]:
    """`python -m dispatch ARGS`, under cProfile (writing DIR/NAME.prof) with --profile."""
    if options.profile_dir is None:
        return dispatch_command(*args)
    output = options.profile_dir / f"{name}.prof"
    return [sys.executable, "-m", "cProfile", "-o", str(output), "-m", "dispatch", *args]


async def start_simulator(options: BenchOptions, workdir: Path, name: str) -> Child:
    return await start_child(name, command(options, name, "simulator",
                                           *simulator_flags(options)),
                             workdir / f"{name}.log")


async def start_daemon(options: BenchOptions, workdir: Path, redis_url: str,
                       ports: dict[str, int], number: int, inbound_port: int = 0) -> Child:
    name = f"daemon-{number}"
    config = write_daemon_config(workdir / f"{name}.toml", redis_url, f"bench-{number}",
                                 options, ports, inbound_port)
    return await start_child(name, command(options, name, "run", "--config", str(config)),
                             workdir / f"{name}.log")
