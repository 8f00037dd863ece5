"""Redis answering BUSY (another client's script running past lua-time-limit, as a
464,000-receipt call once did) is waited out like a restart, not raised through a task:
a real redis-server of the test's own, a real long script on another connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis
import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.store.redis import is_transient
from tests.e2e.harness import free_port
from tests.redis_server import start_redis, stop_redis

TIMEOUT_S = 30
SCRIPT_S = 1.5  # how long the other client's script keeps Redis busy
# Loops on TIME until SCRIPT_S have passed: Redis serves nobody else meanwhile (past
# lua-time-limit it answers them BUSY).
BUSY_SCRIPT = ("local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
               "while true do local n = redis.call('TIME') "
               f"if n[1] * 1000000 + n[2] - s > {int(SCRIPT_S * 1_000_000)} then break end "
               "end return 1")


@asynccontextmanager
async def private_redis(tmp_path: Path) -> AsyncIterator[int]:
    port = free_port()
    process = await start_redis(tmp_path, port, ["--lua-time-limit", "50"])
    try:
        yield port
    finally:
        await stop_redis(process)


async def keep_busy(port: int, started: trio.Event) -> None:
    """Run BUSY_SCRIPT from a raw connection until it returns."""
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        command = ["EVAL", BUSY_SCRIPT, "0"]
        wire = f"*{len(command)}\r\n" + "".join(
            f"${len(part.encode())}\r\n{part}\r\n" for part in command)
        await stream.send_all(wire.encode())
        started.set()
        assert await stream.receive_some(64) == b":1\r\n"


async def test_a_call_answered_busy_is_retried_until_redis_serves_again(
        tmp_path: Path) -> None:
    metrics = DaemonMetrics()
    with trio.fail_after(TIMEOUT_S):
        async with private_redis(tmp_path) as port:
            client: Any = coredis.Redis.from_url(f"redis://127.0.0.1:{port}")
            async with client, trio.open_nursery() as nursery:
                await client.set("k", "v")
                started = trio.Event()
                nursery.start_soon(keep_busy, port, started)
                await started.wait()
                await trio.sleep(0.3)  # past lua-time-limit: others are answered BUSY
                value = await with_redis_retry("busy", lambda: client.get("k"), metrics)
    assert value == b"v"
    assert (metrics.registry.get_sample_value(
        "dispatch_redis_errors_total", {"operation": "busy"}) or 0) >= 1


def test_busy_is_transient_and_a_script_error_is_not() -> None:
    assert is_transient(coredis.exceptions.ResponseError(
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
        "SHUTDOWN NOSAVE."))
    assert not is_transient(coredis.exceptions.ResponseError(
        "ERR Error running script: attempt to compare nil with number"))
    assert is_transient(coredis.exceptions.ConnectionError("lost"))
