"""Real Redis servers in high availability for the tests: a master, two replicas and three
sentinels watching them, on loopback ports, each a process of its own that a test can
kill (`SentinelGroup`). Two replicas, as in production: once the master is lost, the
promoted one still has a replica to confirm writes (redis.replicas = 1)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.store.server import find_redis_server
from tests.real_tools import real_tool

MASTER_NAME = "dispatch-test"
START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def command(port: int, *args: str) -> bytes:
    """One inline command to 127.0.0.1:`port`, its raw reply (enough for PING, ROLE...)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as conn:
        conn.sendall(" ".join(args).encode() + b"\r\n")
        return conn.recv(65536)


def wait_answering(port: int, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"a Redis process on port {port} exited with "
                               f"{process.returncode}")
        try:
            if command(port, "PING").startswith(b"+PONG"):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within {START_TIMEOUT_S:g} s")


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class SentinelGroup:
    folder: Path
    master: Server
    replicas: list[Server] = field(default_factory=list)
    sentinels: list[Server] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}"

    def master_port(self) -> int:
        """Where the sentinels say the master is now."""
        reply = command(self.sentinels[0].port, "SENTINEL", "get-master-addr-by-name",
                        MASTER_NAME)
        return int(reply.split(b"\r\n")[-2])

    def wait_replicated(self) -> None:
        """Until both replicas have what the master has (WAIT on the master; they may still
        be connecting)."""
        give_up = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < give_up:
            if command(self.master.port, "WAIT", "2", "500").strip() == b":2":
                return
        raise RuntimeError(f"the replicas did not catch up within {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        for server in (*self.sentinels, *self.replicas, self.master):
            server.kill()


def _server(folder: Path, name: str, *args: str) -> Server:
    port = free_port()
    home = folder / name
    home.mkdir()
    process = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--dir", str(home), "--logfile", str(home / "redis.log"),
         *args])
    wait_answering(port, process)
    return Server(port, process)


def _sentinel(folder: Path, index: int, master_port: int) -> Server:
    port = free_port()
    config = folder / f"sentinel-{index}.conf"
    # Quick to decide (1 s without an answer), so that a test's failover takes seconds.
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder}/sentinel-{index}.log\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
        f"sentinel failover-timeout {MASTER_NAME} 10000\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n")
    process = subprocess.Popen([real_tool("redis-sentinel", "redis-sentinel"), str(config)])
    wait_answering(port, process)
    return Server(port, process)


@contextmanager
def sentinel_group(folder: Path) -> Iterator[SentinelGroup]:
    """A master, two replicas of it and three sentinels (quorum 2), stopped after the
    block."""
    master = _server(folder, "master")
    group = SentinelGroup(folder, master)
    try:
        group.replicas = [_server(folder, f"replica-{index}", "--replicaof", "127.0.0.1",
                                  str(master.port)) for index in range(2)]
        group.sentinels = [_sentinel(folder, index, master.port) for index in range(3)]
        group.wait_replicated()
        yield group
    finally:
        group.stop()
