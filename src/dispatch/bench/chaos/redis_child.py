"""A redis-server of the run's own, on a unix socket, to SIGKILL and to stop: AOF fsynced
every second (the deploy's redis/dispatch.conf), so a kill loses at most the last second,
as it would in production. Not daemonized: the run holds its process."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import trio

from dispatch.store.server import START_TIMEOUT_S, find_redis_server, ping, socket_url

SOCKET_NAME = "redis.sock"


class RedisChild:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / SOCKET_NAME
        self.url = socket_url(self.socket)
        self._process: trio.Process | None = None

    async def start(self) -> None:
        """Start it (loading its AOF if one is there) and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        log = (self.folder / "redis.log").open("ab")
        try:
            self._process = await trio.lowlevel.open_process(
                [find_redis_server(), "--port", "0", "--unixsocket", str(self.socket),
                 "--unixsocketperm", "700", "--dir", str(self.folder), "--appendonly", "yes",
                 "--appendfsync", "everysec", "--save", "", "--maxmemory-policy",
                 "noeviction"], stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        with trio.fail_after(START_TIMEOUT_S):
            while True:
                if await ping(self.socket):
                    return
                await trio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL: what was not yet fsynced to the AOF is lost."""
        await self._end(signal.SIGKILL)

    async def stop(self) -> None:
        """A clean stop (SIGTERM: the AOF is flushed), as `systemctl stop` does."""
        await self._end(signal.SIGTERM)

    async def _end(self, signum: int) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signum)
        with trio.move_on_after(START_TIMEOUT_S):
            await process.wait()
            return
        process.kill()
        await process.wait()
