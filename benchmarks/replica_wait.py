"""Benchmark: what `redis.replicas = 1` costs — a WAIT after each batch of writes, as the
daemon does before acknowledging receipts and replies (store/replication.py).

    .venv/bin/python benchmarks/replica_wait.py [--batches 2000] [--batch 100] [--repeat 3]

Starts a master and two replicas (redis-server on loopback ports, temporary directories,
AOF everysec as in production), then writes `--batches` batches of `--batch` hash fields
through the daemon's script link (one Lua call a batch, like a receipt batch), first
without waiting, then with `Replication(1)` after each batch (WAIT 1 on the link). Prints,
for each, the time per batch and per message, and the caller's CPU per batch, as one JSON
object (best of `--repeat`). Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from dispatch.store.links import open_script_link
from dispatch.store.replication import ReplicasBehind, Replication
from dispatch.store.script_link import ScriptLink
from dispatch.store.server import find_redis_server

SCRIPT = ("for i = 1, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], '1') end "
          "return #ARGV")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def master_and_replicas(folder: Path) -> Iterator[int]:
    """A master and two replicas of it; yields the master's port."""
    processes: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in range(3)]
    try:
        for index, port in enumerate(ports):
            home = folder / f"r{index}"
            home.mkdir()
            extra = ["--replicaof", "127.0.0.1", str(ports[0])] if index else []
            processes.append(subprocess.Popen(
                [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "yes", "--dir", str(home), *extra],
                stdout=subprocess.DEVNULL))
            for _ in range(200):
                if answers(port):
                    break
                time.sleep(0.05)
        yield ports[0]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def in_sync(link: ScriptLink) -> None:
    """Until both replicas are connected and have every write (they start with the
    master: a few seconds at most)."""
    for _ in range(100):
        try:
            await Replication(2, 100).confirmed(None, "", link)
            return
        except ReplicasBehind:
            await trio.sleep(0.1)
    raise RuntimeError("the replicas did not connect")


async def run(link: ScriptLink, batches: int, batch: int, replication: Replication
              ) -> dict[str, float]:
    script = link.register_script(SCRIPT)
    fields = [f"f{i}" for i in range(batch)]
    await in_sync(link)
    started, cpu = time.perf_counter(), cpu_s()
    for number in range(batches):
        await script(keys=[f"bench:{number % 100}"], args=fields)
        await replication.confirmed(None, "", link)
    elapsed, used = time.perf_counter() - started, cpu_s() - cpu
    return {"us_per_batch": round(elapsed / batches * 1e6, 1),
            "us_per_message": round(elapsed / batches / batch * 1e6, 2),
            "caller_cpu_us_per_batch": round(used / batches * 1e6, 1)}


async def main(batches: int, batch: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder, master_and_replicas(Path(folder)) as port:
        async with open_script_link(f"redis://127.0.0.1:{port}") as link:
            assert isinstance(link, ScriptLink)
            results = {}
            for name, replication in (("no_wait", Replication(0)),
                                      ("replicas_1", Replication(1, 1000))):
                runs = [await run(link, batches, batch, replication) for _ in range(repeat)]
                results[name] = min(runs, key=lambda r: r["us_per_batch"])
    print(json.dumps({"batches": batches, "batch": batch, **results}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    trio.run(main, arguments.batches, arguments.batch, arguments.repeat)
