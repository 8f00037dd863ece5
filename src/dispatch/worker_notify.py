"""The supervisor's side of its workers' sd_notify (`dispatch run --processes N`).

Each worker is given a NOTIFY_SOCKET of its own, a datagram socket the supervisor binds
in a private directory (0700: $RUNTIME_DIRECTORY when systemd made one, else a temporary
directory), and, when systemd set a watchdog for the supervisor, the same WATCHDOG_USEC.
A worker then speaks as a lone daemon does (READY=1, WATCHDOG=1, STATUS=, STOPPING=1,
its figures as X_DISPATCH_*), and only the supervisor, the unit's main process, talks to
systemd: NotifyAccess=main is enough.

    READY=1     once every worker printed its ready line and said READY=1 (a worker
                whose Redis went away in between says it late: no READY=1 before; a
                worker that never says it leaves systemd's TimeoutStartSec to judge)
    WATCHDOG=1  every WATCHDOG_USEC / 2, while every worker pinged within WATCHDOG_USEC: a
                worker whose event loop stalls stops the supervisor's pings, and systemd
                restarts the whole service (a worker that exits does so at once)
    STATUS=     every STATUS_S: the workers' rates summed, campaigns and queue (the same
                Redis for all) at their largest, and each worker's problems
    STOPPING=1  on SIGTERM/SIGINT, or when a worker failed, before the workers drain
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from dispatch.daemon.lifecycle import STATUS_S, Figures
from dispatch.daemon.notify import fields, one_line, sd_notify, watchdog_s

log = logging.getLogger(__name__)

DATAGRAM_BYTES = 4096


@dataclass
class WorkerView:
    """What a worker last told the supervisor."""

    index: int
    ready: bool = False
    last_ping: float | None = None  # trio time of its last WATCHDOG=1 (or READY=1)
    figures: Figures | None = None
    stale: bool = False  # its pings stopped: logged once


class Relay:
    def __init__(self, sockets: list[trio.socket.SocketType], paths: list[Path]) -> None:
        self._sockets = sockets
        self._paths = paths
        self.workers = [WorkerView(index) for index in range(1, len(sockets) + 1)]
        self.watchdog_s = watchdog_s()  # the supervisor's own (WATCHDOG_PID: its pid)
        self._all_ready = trio.Event()
        self._ready = trio.Event()
        self._stopping = False

    def env(self, index: int, base: Mapping[str, str]) -> dict[str, str]:
        """Worker `index`'s environment: its own NOTIFY_SOCKET and the watchdog."""
        env = {name: value for name, value in base.items()
               if name not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        env["NOTIFY_SOCKET"] = str(self._paths[index - 1])
        if self.watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(round(self.watchdog_s * 1_000_000))
        return env

    async def run(self) -> None:
        """Read every worker's notifications; after READY=1, the STATUS= updates and the
        watchdog. Until cancelled."""
        async with trio.open_nursery() as nursery:
            for view, sock in zip(self.workers, self._sockets, strict=True):
                nursery.start_soon(self._receive, view, sock)
            nursery.start_soon(self._report_status)
            if self.watchdog_s is not None:
                nursery.start_soon(self._pet_watchdog, self.watchdog_s)

    async def ready(self) -> None:
        """Every worker printed its ready line: READY=1, once they said so too."""
        await self._all_ready.wait()
        now = trio.current_time()
        for view in self.workers:  # the watchdog's interval counts from READY=1
            view.last_ping = now
        self._ready.set()
        sd_notify(f"READY=1\nSTATUS={self.status()}")

    def stopping(self, why: str) -> None:
        """STOPPING=1, the first time the service starts stopping (`why`)."""
        if self._stopping:
            return
        self._stopping = True
        sd_notify(f"STOPPING=1\nSTATUS=stopping ({one_line(why)}): "
                  f"{len(self.workers)} workers finishing the messages in hand")

    def status(self) -> str:
        known = [view.figures for view in self.workers if view.figures is not None]
        total = Figures(sum(f.rate for f in known), max((f.campaigns for f in known), default=0),
                        max((f.queue for f in known), default=0))
        problems = [f"worker {view.index}: {problem}" for view in self.workers
                    if view.figures is not None for problem in view.figures.problems]
        problems += [f"worker {view.index}: no watchdog ping" for view in self.workers
                     if view.stale]
        return one_line("; ".join((f"{len(self.workers)} workers: {total.status()}",
                                   *problems)))

    async def _receive(self, view: WorkerView, sock: trio.socket.SocketType) -> None:
        while True:
            said = fields(await sock.recv(DATAGRAM_BYTES))
            figures = Figures.from_fields(said)
            if figures is not None:
                view.figures = figures
            if said.get("WATCHDOG") == "1" or said.get("READY") == "1":
                view.last_ping = trio.current_time()
            if said.get("READY") == "1" and not view.ready:
                view.ready = True
                if all(other.ready for other in self.workers):
                    self._all_ready.set()

    async def _report_status(self) -> None:
        await self._ready.wait()
        while True:
            await trio.sleep(STATUS_S)
            if not self._stopping:
                sd_notify(f"STATUS={self.status()}")

    async def _pet_watchdog(self, interval_s: float) -> None:
        """WATCHDOG=1 while every worker pinged within the interval."""
        await self._ready.wait()
        while True:
            if self._workers_alive(interval_s):
                sd_notify("WATCHDOG=1")
            await trio.sleep(interval_s / 2)

    def _workers_alive(self, interval_s: float) -> bool:
        now, alive = trio.current_time(), True
        for view in self.workers:
            silent_s = 0.0 if view.last_ping is None else now - view.last_ping
            if silent_s > interval_s:
                alive = False
                if not view.stale:
                    view.stale = True
                    log.error("worker %d has not pinged its watchdog for %.0f s: the "
                              "service is no longer reported alive to systemd, which will "
                              "restart it", view.index, silent_s)
            elif view.stale:
                view.stale = False
                log.warning("worker %d pings its watchdog again", view.index)
        return alive


@contextmanager
def _private_directory() -> Iterator[Path]:
    """A directory of this process's own (0700) for the workers' sockets."""
    base = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None
    path = Path(tempfile.mkdtemp(prefix="dispatch-notify-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _sockets(count: int) -> Iterator[list[trio.socket.SocketType]]:
    sockets: list[trio.socket.SocketType] = []
    try:
        for _ in range(count):
            sockets.append(trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_DGRAM))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


@asynccontextmanager
async def open_relay(count: int) -> AsyncIterator[Relay]:
    """The sockets of `count` workers, bound for the block, then closed and removed."""
    with _private_directory() as directory, _sockets(count) as sockets:
        paths = [directory / f"worker-{index}.sock" for index in range(1, count + 1)]
        for sock, path in zip(sockets, paths, strict=True):
            await sock.bind(str(path))
        yield Relay(sockets, paths)
