"""`dispatch demo`: the whole pipeline with zero configuration, then nothing left running.

It starts a private embedded Redis (in a temporary state directory), the gateway
simulator and the daemon as real processes, enqueues a synthetic campaign of French mobile
numbers, shows progress until every message has a final state, prints a summary and
stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import trio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dispatch.commands.common import UserError, exit_code_for, sole_exception
from dispatch.enqueue import TextRules, enqueue_file
from dispatch.keys import Keys
from dispatch.policy.sending import ALWAYS
from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import load_settings
from dispatch.store.redis import open_redis
from dispatch.store.server import ensure_embedded, stop_embedded
from dispatch.store.status import state_counts
from dispatch.vocabulary import FINAL_STATES

CAMPAIGN = "demo"
TEXT = "Bonjour {first_name}, votre bureau de vote ouvre dimanche à 8h. Parti Demo. STOP au 36111"
RULES = TextRules(sender="Parti Demo")  # the party the text names
FIRST_NAMES = ("Camille", "Léa", "Hugo", "Louis", "Chloé", "Jules", "Inès", "Nathan")
POLL_S = 0.25
CONSENT_SOURCE = "demo signup form"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on a synthetic campaign",
        description="Start a private Redis, the simulator and the daemon, send a synthetic "
                    "campaign, print a summary, and stop everything.")
    parser.add_argument("--count", type=int, default=100_000, help="messages (default 100000)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up after this many seconds (default 1800)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= 10_000_000:
        raise UserError("--count must be between 1 and 10000000")
    workdir = Path(tempfile.mkdtemp(prefix="dispatch-demo-"))
    try:
        summary = trio.run(run_demo, workdir, args.count, args.timeout, not args.json)
    except BaseException as exc:
        if exit_code_for(sole_exception(exc)) is None:  # a one-line error names its logs itself
            Console(stderr=True).print(f"demo failed; logs kept in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    return 0 if summary["complete"] else 1


async def run_demo(workdir: Path, count: int, timeout_s: float, show: bool) -> dict[str, Any]:
    state_dir = workdir / "state"
    redis_url = await ensure_embedded(state_dir)
    try:
        return await _with_services(workdir, redis_url, count, timeout_s, show)
    finally:
        with trio.CancelScope(shield=True):
            await stop_embedded(state_dir)


async def _with_services(workdir: Path, redis_url: str, count: int, timeout_s: float,
                         show: bool) -> dict[str, Any]:
    children: list[Child] = []
    # Receipts and replies are signed as a real gateway's must be; a secret of this run's
    # own, shared by the simulator and the daemon only (the config file is the user's).
    secret = secrets.token_hex(16)
    try:
        simulator = await start_child(
            "simulator", dispatch_command("simulator", "--http-port", "0", "--seed", "1",
                                          "--receipt-delay-ms", "100",
                                          "--callback-secret", secret),
            workdir / "simulator.log")
        children.append(simulator)
        config = _write_config(workdir, redis_url, simulator.ready["http_port"], secret)
        children.append(await start_child(
            "daemon", dispatch_command("run", "--config", str(config)), workdir / "daemon.log"))
        return await _send_campaign(workdir, config, count, timeout_s, show)
    finally:
        with trio.CancelScope(shield=True):
            for child in reversed(children):
                await child.stop()


def _write_config(workdir: Path, redis_url: str, gateway_port: int, secret: str) -> Path:
    path = workdir / "dispatch.toml"
    path.touch(mode=0o600)
    path.write_text(
        f'[redis]\nurl = "{redis_url}"\n\n'
        '[daemon]\nconsumer = "demo"\ninbound_port = 0\nmetrics_port = 0\n\n'
        f'[gateways.default]\nurl = "http://127.0.0.1:{gateway_port}"\n'
        f'inbound_secret = "{secret}"\n'
        'batch_size = 100\nconcurrency = 4\nsender = "PARTIDEMO"\n')
    return path


async def _send_campaign(workdir: Path, config: Path, count: int, timeout_s: float,
                         show: bool) -> dict[str, Any]:
    settings = load_settings(config)
    started = trio.current_time()
    async with open_redis(settings) as redis:
        # A demo sends to the simulator, not to people: at any hour.
        report = await enqueue_file(redis, settings, _write_numbers(workdir, count),
                                    CAMPAIGN, TEXT, window=ALWAYS, rules=RULES)
        keys = Keys(settings.redis.key_prefix)
        with trio.move_on_after(timeout_s):
            await _wait_until_final(redis, keys, report.accepted, show)
        counts = (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]
    elapsed = trio.current_time() - started
    final = sum(counts[state] for state in FINAL_STATES)
    return {"accepted": report.accepted, "delivered": counts["delivered"],
            "failed": counts["failed"], "expired": counts["expired"],
            "elapsed_s": round(elapsed, 3), "per_second": round(final / elapsed, 1),
            "complete": final == report.accepted}


async def _wait_until_final(redis: Any, keys: Keys, accepted: int, show: bool) -> None:
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show, transient=True) as progress:
        bar = progress.add_task("final", total=accepted)
        while True:
            counts = (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]
            final = sum(counts[state] for state in FINAL_STATES)
            progress.update(bar, completed=final)
            if final >= accepted:
                return
            await trio.sleep(POLL_S)


def _write_numbers(workdir: Path, count: int) -> Path:
    """A CSV of `count` distinct French mobile numbers with a first name each, and where
    their consent came from (campaigns require it by default)."""
    rng = random.Random(2027)
    path = workdir / "campaign.csv"
    # 061…, 062…, 064…, 065…: mainland mobiles (0639 and 069 are overseas departments).
    suffixes = rng.sample(range(40_000_000), count)
    with path.open("w") as out:
        out.write("phone,first_name,consent_source,consent_date\n")
        for index, suffix in enumerate(suffixes):
            head = "1245"[suffix // 10_000_000]
            number = f"06{head}{suffix % 10_000_000:07d}"
            name = FIRST_NAMES[index % len(FIRST_NAMES)]
            out.write(f"{number},{name},{CONSENT_SOURCE},2026-09-{1 + index % 28:02d}\n")
    return path


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    console.print(f"accepted   {summary['accepted']:>10,}")
    console.print(f"delivered  {summary['delivered']:>10,}")
    console.print(f"failed     {summary['failed']:>10,}")
    console.print(f"expired    {summary['expired']:>10,}")
    console.print(f"elapsed    {summary['elapsed_s']:>10.1f} s")
    console.print(f"rate       {summary['per_second']:>10,.0f} messages/s (end to end)")
    if not summary["complete"]:
        console.print("[red]not every message reached a final state before the timeout[/red]")
