"""`dispatch run --processes N`: N daemons on one host under one supervisor, to use more
than one core.

Each worker is a whole `dispatch run` process (`--worker K`, K = 1..N) with its own
consumer name (`<consumer>-K`) and ports (the configured ones plus K - 1; 0 stays 0), so
they share the campaign streams through the consumer group and the pools' lines through
leases exactly as daemons on several hosts do; any worker can record any receipt. SMPP
binds are per worker (N x `binds` in all).

The supervisor starts them, prints one JSON line `{"workers": [<each worker's ready
line>]}` and tells systemd READY=1 once every worker is ready. The workers do not talk to
systemd: each notifies the supervisor on a socket of its own, and the supervisor tells
systemd for all of them (dispatch.worker_notify: READY, WATCHDOG, STATUS, STOPPING).
SIGTERM/SIGINT are passed to every worker (after STOPPING=1), which drain as a single
daemon does (one received while the workers start is acted on once they are up); the
supervisor exits 0 when all of them did. A worker that exits on its own
is a failure: the others are stopped and the supervisor exits 1, so that systemd restarts
the whole service.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

import trio

from dispatch.processes import READY_TIMEOUT_S, ProcessFailed, read_line
from dispatch.settings import Settings
from dispatch.worker_notify import Relay, open_relay

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 120.0  # a worker still running this long after SIGTERM is killed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Signals = AsyncIterator[int]  # what trio.open_signal_receiver yields


def worker_settings(settings: Settings, index: int, consumer: str) -> Settings:
    """The settings of worker `index` (1-based): `<consumer>-index`, its own ports; the
    campaign series (read from Redis: the same for every worker) from worker 1 only."""
    daemon = settings.daemon
    return replace(settings, daemon=replace(
        daemon, consumer=f"{consumer}-{index}",
        inbound_port=_shifted(daemon.inbound_port, index),
        metrics_port=_shifted(daemon.metrics_port, index),
        campaign_metrics=daemon.campaign_metrics and index == 1))


def _shifted(port: int, index: int) -> int:
    return port + index - 1 if port else 0


@dataclass
class Worker:
    index: int
    process: trio.Process
    ready: dict[str, object] = field(default_factory=dict)

    def signal(self, signum: int) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signum)


async def supervise(commands: Sequence[list[str]]) -> int:
    """Run one worker per command until they end; the exit code of the service."""
    # Caught from the start: a SIGTERM while the workers start (or right after READY=1)
    # is acted on once they run, instead of killing the supervisor and orphaning them.
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        return await _supervise(commands, signals)


async def _supervise(commands: Sequence[list[str]], signals: Signals) -> int:
    async with open_relay(len(commands)) as relay, trio.open_nursery() as nursery:
        nursery.start_soon(relay.run)
        workers: list[Worker] = []
        try:
            for index, command in enumerate(commands, start=1):
                workers.append(await _start(index, command, relay.env(index, os.environ)))
        except ProcessFailed:
            await _stop_all(workers)
            raise
        print(json.dumps({"workers": [worker.ready for worker in workers]}), flush=True)
        await relay.ready()
        code = await _watch(workers, relay, signals)
        nursery.cancel_scope.cancel()
    return code


async def _start(index: int, command: list[str], env: dict[str, str]) -> Worker:
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    worker = Worker(index, process)
    try:
        with trio.fail_after(READY_TIMEOUT_S):
            worker.ready = json.loads(await read_line(process.stdout))
    except (trio.TooSlowError, ValueError, EOFError) as exc:
        if isinstance(exc, EOFError):  # it closed its output: it is exiting
            with trio.move_on_after(READY_TIMEOUT_S):
                await process.wait()
        if process.returncode is not None:  # its own line on stderr says why
            raise ProcessFailed(f"worker {index} exited with {process.returncode} before "
                                "it was ready", process.returncode) from None
        process.kill()
        await process.wait()
        raise ProcessFailed(f"worker {index} did not start ({type(exc).__name__})") from None
    return worker


async def _watch(workers: list[Worker], relay: Relay, signals: Signals) -> int:
    asked = trio.Event()  # a stop was asked for (signal): workers ending is expected
    failed: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_pass_signals, signals, workers, asked, relay)
        async with trio.open_nursery() as waits:
            for worker in workers:
                waits.start_soon(_wait, worker, workers, asked, failed, relay)
        nursery.cancel_scope.cancel()
    return 1 if failed or not asked.is_set() else 0


async def _pass_signals(signals: Signals, workers: list[Worker], asked: trio.Event,
                        relay: Relay) -> None:
    async for signum in signals:
        name = signal.Signals(signum).name
        log.info("received %s: passing it to %d workers", name, len(workers))
        relay.stopping(f"{name} received")
        asked.set()
        for worker in workers:
            worker.signal(signal.SIGTERM)  # a second one makes a worker stop at once


async def _wait(worker: Worker, workers: list[Worker], asked: trio.Event,
                failed: list[int], relay: Relay) -> None:
    code = await worker.process.wait()
    if code != 0 or not asked.is_set():
        relay.stopping(f"worker {worker.index} exited with {code}")
        failed.append(worker.index)
        log.error("worker %d exited with %d%s: stopping the others", worker.index, code,
                  "" if asked.is_set() else " unasked")
        await _stop_all(workers)


async def _stop_all(workers: list[Worker]) -> None:
    for worker in workers:
        worker.signal(signal.SIGTERM)
    with trio.move_on_after(STOP_TIMEOUT_S):
        for worker in workers:
            await worker.process.wait()
    for worker in workers:
        if worker.process.returncode is None:
            worker.process.kill()
            await worker.process.wait()
