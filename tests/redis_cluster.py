"""A real Redis Cluster for the tests: masters and their replicas, each a redis-server
process of its own on a loopback port, formed by `redis-cli --cluster create`
(`ClusterGroup`). A test can kill a master and wait for a replica to take its slots: the
node timeout is 1 s, so that a failover takes seconds."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dispatch.bench.cluster import free_cluster_port
from dispatch.store.server import find_redis_server
from tests.real_tools import real_tool
from tests.redis_ha import Server, command, wait_answering

HOST = "127.0.0.1"
NODE_TIMEOUT_MS = 1000
WAIT_TIMEOUT_S = 20.0
CREATE_TIMEOUT_S = 30.0
POLL_S = 0.1
LOG_LINES = 8

T = TypeVar("T")


class NotYet(RuntimeError):
    """What a poll still waits for; the last one is named when the poll gives up."""


@dataclass(frozen=True)
class NodeLine:
    """One line of CLUSTER NODES: a node as another node sees it."""

    id: str
    port: int
    flags: frozenset[str]
    master_id: str  # "-" for a master
    slots: tuple[tuple[int, int], ...]

    @property
    def failing(self) -> bool:
        return bool(self.flags & {"fail", "fail?", "handshake", "noaddr"})

    @property
    def serving(self) -> bool:
        """A master taking requests: not failing, with slots."""
        return "master" in self.flags and not self.failing and bool(self.slots)

    def owns(self, slot: int) -> bool:
        return any(first <= slot <= last for first, last in self.slots)


@dataclass
class ClusterGroup:
    """The cluster's processes, and questions asked of the cluster itself (which node is a
    master changes with a failover)."""

    folder: Path
    masters: int
    replicas_per_master: int
    nodes: list[Server] = field(default_factory=list)
    startup_nodes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The masters at start as startup nodes; any of them leads a client to the rest."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.startup_nodes)
        return f"redis+cluster://{hosts}"

    def live(self) -> list[Server]:
        return [server for server in self.nodes if server.process.poll() is None]

    def master_ports(self) -> list[int]:
        """The ports of the masters serving slots now, as the cluster says."""
        return sorted(line.port for line in _view(self._asked()) if line.serving)

    def master_port_for(self, key: str) -> int:
        """The port of the master owning `key`'s slot (the node's CLUSTER KEYSLOT: hash tags
        included). `key` goes in an inline command: no spaces or quotes."""
        if not key or any(char.isspace() or char in "\"'" for char in key):
            raise ValueError(f"a key for an inline command, without spaces or quotes: {key!r}")
        port = self._asked()
        slot = _integer(port, "CLUSTER", "KEYSLOT", key)
        for line in _view(port):
            if line.serving and line.owns(slot):
                return line.port
        raise RuntimeError(f"no master serves slot {slot} (asked 127.0.0.1:{port})")

    def wait_ok(self, timeout: float = WAIT_TIMEOUT_S) -> None:
        """Until every live node says cluster_state:ok."""
        _poll("every live node to say cluster_state:ok", self._all_ok,
              self._logs(self._ports()), timeout)

    def wait_replicas_attached(self, timeout: float = WAIT_TIMEOUT_S) -> None:
        """Until every node sees all masters with all their replicas, and every replica's
        link to its master is up (WAIT on a master counts only those)."""
        _poll(f"every node to see {self.masters} masters with {self.replicas_per_master} "
              "replica(s) each, linked", self._replicas_attached,
              self._logs(self._ports()), timeout)

    def kill_master(self, port: int, timeout: float = WAIT_TIMEOUT_S) -> int:
        """SIGKILL the master on `port`, then wait until one of its replicas serves its slots
        in the view of every surviving node, all cluster_state:ok; that replica's port."""
        view = _view(self._asked(avoid=port))
        master = next((line for line in view if line.port == port and line.serving), None)
        if master is None:
            raise ValueError(f"no master serving slots on port {port}")
        replicas = {line.port for line in view if line.master_id == master.id}
        if not replicas:
            raise ValueError(f"the master on port {port} has no replica to promote")
        self._server(port).kill()
        return _poll(f"a replica of the master killed on port {port} (ports "
                     f"{sorted(replicas)}) to be promoted, cluster_state:ok on the survivors",
                     lambda: self._promoted(master, replicas), self._logs(replicas), timeout)

    def stop(self) -> None:
        """Kill every node, then reap each: the signals all go out before any wait, so one
        slow process keeps no other alive."""
        for server in self.nodes:
            if server.process.poll() is None:
                server.process.kill()
        for server in self.nodes:
            server.kill()

    def _logs(self, ports: Iterable[int]) -> list[Path]:
        return [_log(self.folder, port) for port in sorted(ports)]

    def _ports(self) -> list[int]:
        return [server.port for server in self.live()]

    def _server(self, port: int) -> Server:
        return next(server for server in self.nodes if server.port == port)

    def _asked(self, avoid: int | None = None) -> int:
        """A live node to ask (the first one, so that answers are consistent)."""
        for port in self._ports():
            if port != avoid:
                return port
        raise RuntimeError("no live node left in the cluster")

    def _all_ok(self) -> None:
        for port in self._ports():
            if "cluster_state:ok" not in _bulk(port, "CLUSTER", "INFO"):
                raise NotYet(f"127.0.0.1:{port} is not cluster_state:ok")

    def _replicas_attached(self) -> None:
        for port in self._ports():
            _check_attached(port, _view(port), self.masters, self.replicas_per_master)

    def _promoted(self, killed: NodeLine, replicas: set[int]) -> int:
        """The promoted replica's port once all survivors agree on it, else NotYet."""
        promoted: set[int] = set()
        for port in self._ports():
            view = {line.port: line for line in _view(port)}
            if killed.port in view and "fail" not in view[killed.port].flags:
                raise NotYet(f"127.0.0.1:{port} has not marked {killed.port} as failed")
            serving = [p for p in replicas if p in view and view[p].serving]
            if len(serving) != 1:
                raise NotYet(f"127.0.0.1:{port} sees {serving} of {sorted(replicas)} "
                             "as master")
            promoted.add(serving[0])
        if len(promoted) != 1:
            raise NotYet(f"the survivors disagree on the new master: {sorted(promoted)}")
        self._all_ok()
        return promoted.pop()


def _check_attached(port: int, view: list[NodeLine], masters: int, replicas: int) -> None:
    """NotYet unless `port`'s view has the masters, each with its replicas, and `port`,
    if a replica, has its link to its master up."""
    serving = [line for line in view if line.serving]
    if len(serving) != masters:
        raise NotYet(f"127.0.0.1:{port} sees {len(serving)} of {masters} masters")
    for master in serving:
        count = sum(1 for line in view if line.master_id == master.id and not line.failing)
        if count < replicas:
            raise NotYet(f"127.0.0.1:{port} sees {count} of {replicas} replicas of "
                         f"{master.port}")
    myself = next(line for line in view if "myself" in line.flags)
    if "slave" in myself.flags and "master_link_status:up" not in _bulk(
            port, "INFO", "replication"):
        raise NotYet(f"127.0.0.1:{port}'s link to its master is not up")


def _bulk(port: int, *args: str) -> str:
    """A bulk-string reply (CLUSTER INFO, CLUSTER NODES, INFO): `command` reads once, so a
    short read is NotYet rather than half a table."""
    reply = command(port, *args)
    header, _, body = reply.partition(b"\r\n")
    if not header.startswith(b"$"):
        raise NotYet(f"127.0.0.1:{port} answered {' '.join(args)} with {reply[:200]!r}")
    length = int(header[1:])
    if len(body) < length + 2:
        raise NotYet(f"127.0.0.1:{port}'s reply to {' '.join(args)} came in pieces")
    return body[:length].decode()


def _integer(port: int, *args: str) -> int:
    reply = command(port, *args)
    if not reply.startswith(b":"):
        raise RuntimeError(f"127.0.0.1:{port} answered {' '.join(args)} with {reply!r}")
    return int(reply[1:].strip())


def _view(port: int) -> list[NodeLine]:
    """CLUSTER NODES of the node on `port`, parsed."""
    return [_parse(line) for line in _bulk(port, "CLUSTER", "NODES").splitlines() if line]


def _parse(line: str) -> NodeLine:
    """<id> <ip:port@bus[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
    (slots in migration, "[...]", are left out)."""
    fields = line.split()
    address = fields[1].split("@")[0]
    slots = tuple(_slot_range(text) for text in fields[8:] if not text.startswith("["))
    return NodeLine(fields[0], int(address.rsplit(":", 1)[1]),
                    frozenset(fields[2].split(",")), fields[3], slots)


def _slot_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def _poll(what: str, probe: Callable[[], T], logs: Iterable[Path], timeout: float) -> T:
    """`probe`'s result once it stops raising NotYet (or OSError: a node not answering),
    polling; a RuntimeError naming `what`, the last thing missing and the nodes' logs once
    `timeout` has passed."""
    give_up = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (NotYet, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= give_up:
            raise RuntimeError(f"gave up after {timeout:g} s waiting for {what}; still: {last}"
                               + _log_tails(logs))
        time.sleep(POLL_S)


def _log(folder: Path, port: int) -> Path:
    return folder / f"node-{port}" / "redis.log"


def _log_tails(logs: Iterable[Path]) -> str:
    text = ""
    for log in logs:
        lines = log.read_text(errors="replace").splitlines() if log.exists() else ["(none)"]
        text += f"\n--- {log} (last {LOG_LINES} lines) ---\n" + "\n".join(lines[-LOG_LINES:])
    return text


def _node(folder: Path) -> Server:
    """A cluster-enabled redis-server; tried again on fresh ports (three times at most) if
    another process took its port or bus port between the probe and the bind."""
    failures = []
    for _ in range(3):
        port = free_cluster_port()
        server = _start_node(folder, port)
        if server is not None:
            return server
        failures.append(_log(folder, port))
    raise RuntimeError("a cluster node did not start, three times" + _log_tails(failures))


def _start_node(folder: Path, port: int) -> Server | None:
    """The node on `port` once it answers PING; None (and no process) if it did not."""
    home = _log(folder, port).parent
    home.mkdir()
    process = subprocess.Popen(
            [find_redis_server(), "--port", str(port), "--bind", HOST, "--dir", str(home),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--save", "",
             "--appendonly", "no", "--stream-node-max-entries", "16",
             # A replica's first sync at once, not after 5 s waiting for more replicas.
             "--repl-diskless-sync-delay", "0",
             "--logfile", str(home / "redis.log")])
    server = Server(port, process)
    try:
        wait_answering(port, process)
    except RuntimeError:
        server.kill()
        return None
    return server


def _redis_cli() -> str:
    """The redis-cli next to the redis-server in use, else the one on PATH."""
    beside = Path(find_redis_server()).with_name("redis-cli")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return real_tool("redis-cli", "redis-tools")


def _create(group: ClusterGroup) -> None:
    """`redis-cli --cluster create`: slots to the masters, replicas assigned, nodes met."""
    ports = [server.port for server in group.nodes]
    replicas_per_master = group.replicas_per_master
    args = [_redis_cli(), "--cluster", "create", *(f"{HOST}:{port}" for port in ports),
            "--cluster-replicas", str(replicas_per_master), "--cluster-yes"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=CREATE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"redis-cli --cluster create took over {CREATE_TIMEOUT_S:g} s: "
                           f"{exc.stdout!r}" + _log_tails(group._logs(ports))) from None
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed ({done.returncode}):\n"
                           f"{done.stdout}{done.stderr}" + _log_tails(group._logs(ports)))


@contextmanager
def redis_cluster(folder: Path, masters: int = 3, replicas_per_master: int = 1
                  ) -> Iterator[ClusterGroup]:
    """A formed cluster, ok on every node with every replica linked; every process killed
    and reaped after the block, whatever happened in it."""
    if masters < 3:
        raise ValueError(f"Redis Cluster needs 3 masters at least, not {masters}")
    folder.mkdir(parents=True, exist_ok=True)
    group = ClusterGroup(folder, masters, replicas_per_master)
    try:
        for _ in range(masters * (1 + replicas_per_master)):
            group.nodes.append(_node(folder))
        _create(group)
        group.wait_ok()
        group.wait_replicas_attached()
        group.startup_nodes = [(HOST, port) for port in group.master_ports()]
        yield group
    finally:
        group.stop()
