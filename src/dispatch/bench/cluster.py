"""A private Redis Cluster for `dispatch bench --redis-masters N`: N masters, no replicas,
each a redis-server on a free loopback port, the slots split evenly between them
(CLUSTER ADDSLOTSRANGE), introduced to each other (CLUSTER MEET), ready once every one
says `cluster_state:ok`. What one message costs Redis is then spread over N processes
whose CPU the bench adds up."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import trio

from dispatch.store.resp import Arg, ErrorReply, Reply
from dispatch.store.sentinel import exchange
from dispatch.store.server import find_redis_server

HOST: Final = "127.0.0.1"
SLOTS: Final = 16384
BUS_OFFSET: Final = 10000  # the cluster bus listens on the client port + 10000
READY_TIMEOUT_S: Final = 30.0
PORT_TRIES: Final = 100


@dataclass(frozen=True)
class BenchCluster:
    url: str
    pids: list[int]


class ClusterNotFormed(RuntimeError):
    """The masters did not agree on a cluster in time, or a node refused a step."""


@asynccontextmanager
async def private_cluster(folder: Path, masters: int) -> AsyncIterator[BenchCluster]:
    """N masters formed into a cluster, for the block; every process stopped after."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = []
        for index in range(masters):
            port = free_cluster_port()
            processes.append(_start(folder / f"redis-{index + 1}", port))
            ports.append(port)
        with trio.fail_after(READY_TIMEOUT_S):
            await _form(ports)
        yield BenchCluster("redis+cluster://" + ",".join(f"{HOST}:{p}" for p in ports),
                           [process.pid for process in processes])
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [find_redis_server(), "--bind", HOST, "--port", str(port), "--cluster-enabled", "yes",
         "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
         "--stream-node-max-entries", "16", "--dir", str(home),
         "--logfile", str(home / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _form(ports: list[int]) -> None:
    """Slots split evenly, every node met by the first, then ok everywhere."""
    share = SLOTS // len(ports)
    for index, port in enumerate(ports):
        first = index * share
        last = SLOTS - 1 if index == len(ports) - 1 else first + share - 1
        await _ask(port, ["CLUSTER", "ADDSLOTSRANGE", first, last])
    for port in ports[1:]:
        await _ask(ports[0], ["CLUSTER", "MEET", HOST, port])
    for port in ports:
        await _wait_ok(port)


async def _wait_ok(port: int) -> None:
    """Until the node says the cluster is ok (bounded by the caller's deadline)."""
    state = b""
    while b"cluster_state:ok" not in state:
        if state:
            await trio.sleep(0.1)
        state = _bytes(await _ask(port, ["CLUSTER", "INFO"])) or b"?"


async def _ask(port: int, command: list[Arg]) -> Reply:
    """One command to the node on `port`, once it accepts connections."""
    while True:
        try:
            stream = await trio.open_tcp_stream(HOST, port)
            break
        except OSError:
            await trio.sleep(0.05)
    async with stream:
        reply = await exchange(stream, command)
    if isinstance(reply, ErrorReply):
        asked = " ".join(str(arg) for arg in command[:2] if not isinstance(arg, bytes))
        raise ClusterNotFormed(f"{asked} refused by the node on port {port}: "
                               f"{reply.message}")
    return reply


def _bytes(reply: Reply) -> bytes:
    return reply if isinstance(reply, bytes) else b""


def free_cluster_port() -> int:
    """A loopback port free now whose cluster bus port (+10000) is free and valid too."""
    for _ in range(PORT_TRIES):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
        if port + BUS_OFFSET < 65536 and _bindable(port + BUS_OFFSET):
            return port
    raise ClusterNotFormed(f"no free port with a free cluster bus port in {PORT_TRIES} tries")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True
