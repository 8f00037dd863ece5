"""A redis-server of a test's own on a loopback port, for tests that start it late, stop
it or change its settings: never the session's shared one. Real time only (the caller's
trio.fail_after bounds the wait): it polls a process that starts in real time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio

from dispatch.store.server import find_redis_server


async def start_redis(folder: Path, port: int, args: Sequence[str] = ()) -> trio.Process:
    """redis-server on 127.0.0.1:`port` (no persistence, `args` added), once it answers."""
    process = await trio.lowlevel.open_process(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder),
         "--logfile", str(folder / f"redis-{port}.txt"), *args])
    while not await answers(port):
        assert process.returncode is None, f"redis-server exited with {process.returncode}"
        await trio.sleep(0.05)
    return process


async def answers(port: int) -> bool:
    """Does a Redis on 127.0.0.1:`port` answer a PING?"""
    answer = b""
    try:
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(b"PING\r\n")
            while len(answer) < 7 and (chunk := await stream.receive_some(64)):
                answer += chunk
    except (OSError, trio.BrokenResourceError):
        return False
    return answer.startswith(b"+PONG")


async def stop_redis(process: trio.Process) -> None:
    if process.returncode is None:
        process.terminate()
    with trio.CancelScope(shield=True):
        await process.wait()
