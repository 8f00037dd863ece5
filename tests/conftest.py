"""Shared fixtures: a real redis-server started by this test session, one key prefix per test;
a real Redis Cluster too, started once when a test first asks for it (`cluster_url`)."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dispatch.settings import RedisSettings, Settings
from dispatch.store.links import open_script_link
from dispatch.store.redis import Redis, open_redis
from dispatch.store.scripts import ScriptHost
from dispatch.store.server import find_redis_server
from tests.redis_cluster import redis_cluster

# The `scripts` variant whose store (the `settings` fixture) is the session's cluster.
CLUSTER_LINK = "cluster_link"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a unix socket, no persistence, for the whole session."""
    folder = tmp_path_factory.mktemp("redis")
    sock = folder / "redis.sock"
    process = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
    )
    try:
        _wait_for_socket(sock, process)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_socket(sock: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):  # bounded: 10 s
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start within 10 s")


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis Cluster of 3 masters without replicas (2 s to start), for the whole session:
    for the stores tested on a cluster too (`scripts`' CLUSTER_LINK variant)."""
    with redis_cluster(tmp_path_factory.mktemp("cluster"), replicas_per_master=0) as group:
        yield group.url


@pytest.fixture
def settings(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Settings:
    """Default settings on the session's Redis with a key prefix of this test's own (on the
    session's cluster in `scripts`' CLUSTER_LINK variant)."""
    url = request.getfixturevalue("cluster_url") if _on_cluster(request) else redis_url
    return Settings(
        redis=RedisSettings(url=url, key_prefix=f"t{uuid.uuid4().hex[:10]}"),
        state_dir=str(tmp_path / "state"),
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    async with open_redis(settings) as client:
        yield client


def _on_cluster(request: pytest.FixtureRequest) -> bool:
    callspec = getattr(request.node, "callspec", None)
    return callspec is not None and callspec.params.get("scripts") == CLUSTER_LINK


@pytest.fixture(params=["coredis", "link", CLUSTER_LINK])
async def scripts(request: pytest.FixtureRequest, settings: Settings
                  ) -> AsyncIterator[ScriptHost | None]:
    """Where a store's scripts go: the coredis client (None: the store's own), the daemon's
    script link, or its link to a cluster's masters (the test's Redis is then the
    session's cluster: `settings`)."""
    if request.param == "coredis":
        yield None
        return
    async with open_script_link(settings.redis.url) as link:
        yield link
