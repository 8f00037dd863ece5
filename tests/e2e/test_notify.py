"""What the real daemon tells systemd, read on a notify socket of the test's own the way
systemd reads it (with each sender's credentials, as NotifyAccess=main checks them): READY=1
once, after Redis answers; WATCHDOG=1 at half WATCHDOG_USEC; STOPPING=1 on SIGTERM, then
exit 0. Alone, and as `--processes 2`, where only the supervisor speaks (its workers tell
it on sockets of its own). While Redis is down, STATUS= says so and READY=1 waits."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from dispatch.daemon.notify import fields
from dispatch.processes import Child, dispatch_command, read_line
from dispatch.settings import RedisSettings, Settings
from tests.e2e.harness import free_port, start_simulator, write_config
from tests.redis_server import start_redis, stop_redis

TIMEOUT_S = 90
WATCHDOG_USEC = 2_000_000  # a ping about every second
CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class NotifySocket:
    """NOTIFY_SOCKET as systemd binds it: every datagram with the pid that sent it."""

    def __init__(self, sock: trio.socket.SocketType, path: Path) -> None:
        self._sock = sock
        self.path = path
        self.received: list[tuple[int, dict[str, str]]] = []
        self._arrived = trio.Event()

    async def collect(self) -> None:
        while True:
            data, ancillary, _, _ = await self._sock.recvmsg(
                4096, trio.socket.CMSG_SPACE(CREDENTIALS.size))
            pid = next(CREDENTIALS.unpack(payload[:CREDENTIALS.size])[0]
                       for level, kind, payload in ancillary
                       if (level, kind) == (trio.socket.SOL_SOCKET,
                                            trio.socket.SCM_CREDENTIALS))
            self.received.append((pid, fields(data)))
            self._arrived.set()
            self._arrived = trio.Event()

    def said(self, name: str) -> list[dict[str, str]]:
        return [said for _, said in self.received if name in said]

    def events(self) -> list[str]:
        """READY, WATCHDOG and STOPPING, in the order they came."""
        return [name for _, said in self.received for name in ("READY", "WATCHDOG", "STOPPING")
                if said.get(name) == "1"]

    async def until(self, name: str, count: int = 1) -> list[dict[str, str]]:
        while len(said := [s for s in self.said(name) if s[name] != "0"]) < count:
            await self._arrived.wait()
        return said


@asynccontextmanager
async def notify_socket(folder: Path) -> AsyncIterator[NotifySocket]:
    path = folder / "notify.sock"
    with trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_DGRAM) as sock:
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_PASSCRED, 1)
        await sock.bind(str(path))
        heard = NotifySocket(sock, path)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heard.collect)
            yield heard
            nursery.cancel_scope.cancel()


async def start_run(reaper: list[Child], folder: Path, config: Path, notify: Path,
                    processes: int) -> Child:
    """`dispatch run` under a systemd-like environment (NOTIFY_SOCKET, WATCHDOG_USEC and,
    as systemd leaves it for a pid it cannot know before exec here, no WATCHDOG_PID); the
    ready line is not waited for."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("WATCHDOG_PID", "DISPATCH_REDIS_URL", "INVOCATION_ID")}
    env.update(NOTIFY_SOCKET=str(notify), WATCHDOG_USEC=str(WATCHDOG_USEC))
    with (folder / "daemon.log").open("ab") as log:
        process = await trio.lowlevel.open_process(
            dispatch_command("run", "--config", str(config), "--processes", str(processes)),
            stdout=subprocess.PIPE, stderr=log, env=env)
    child = Child("daemon", process, {})
    reaper.append(child)
    return child


async def stop(child: Child) -> int:
    child.process.send_signal(signal.SIGTERM)
    return await child.process.wait()


@pytest.mark.parametrize("processes", [1, 2], ids=["alone", "--processes 2"])
async def test_ready_then_watchdog_pings_then_stopping_on_sigterm(
        settings: Settings, tmp_path: Path, reaper: list[Child], processes: int) -> None:
    with trio.fail_after(TIMEOUT_S):
        simulator = await start_simulator(reaper, tmp_path)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="notify")
        async with notify_socket(tmp_path) as heard:
            daemon = await start_run(reaper, tmp_path, config, heard.path, processes)
            assert daemon.process.stdout is not None
            await read_line(daemon.process.stdout)  # its ready line
            [ready] = await heard.until("READY")
            await heard.until("WATCHDOG", 2)
            assert await stop(daemon) == 0
            await heard.until("STOPPING")
    events = heard.events()
    assert events[0] == "READY" and events.count("READY") == 1
    assert events.index("STOPPING") > events.index("WATCHDOG", 1)
    assert events.count("STOPPING") == 1
    # Only the process systemd started speaks (NotifyAccess=main): no worker directly.
    assert {pid for pid, _ in heard.received} == {daemon.process.pid}
    workers = f"{processes} workers: " if processes > 1 else ""
    assert ready["STATUS"].startswith(f"{workers}sending 0 msg/s, ")
    [stopping] = heard.said("STOPPING")
    assert stopping["STATUS"].startswith("stopping")


@pytest.mark.parametrize("processes", [1, 2], ids=["alone", "--processes 2"])
async def test_no_ready_while_redis_is_down_then_ready_once_it_answers(
        tmp_path: Path, reaper: list[Child], processes: int) -> None:
    port = free_port()
    settings = Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0",
                                            key_prefix=f"t{uuid.uuid4().hex[:10]}"))
    with trio.fail_after(TIMEOUT_S):
        simulator = await start_simulator(reaper, tmp_path)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="late")
        async with notify_socket(tmp_path) as heard:
            daemon = await start_run(reaper, tmp_path, config, heard.path, processes)
            [waiting] = await heard.until("STATUS")
            await trio.sleep(3)  # a few seconds of Redis being down: no READY=1 meanwhile
            assert heard.said("READY") == [] and daemon.process.returncode is None
            redis = await start_redis(tmp_path, port)
            try:
                await heard.until("READY")
                assert await stop(daemon) == 0
            finally:
                await stop_redis(redis)
    assert waiting["STATUS"] == ("waiting for Redis before saying ready: connection "
                                 f"refused (127.0.0.1:{port})")
    assert heard.events().count("READY") == 1
    assert {pid for pid, _ in heard.received} == {daemon.process.pid}
