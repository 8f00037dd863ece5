"""The daemon's script link on the session's real Redis (and, for what Redis cannot be
made to do on demand, a silent server of our own)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.store.links import open_script_link
from dispatch.store.redis import TRANSIENT_ERRORS, Redis
from dispatch.store.script_link import (
    CLIENT_NAME,
    CONNECT_TIMEOUT_S,
    REPLY_TIMEOUT_S,
    LinkAddress,
    LinkUnavailableError,
    ScriptError,
    link_address,
)

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2, false, {1, 'x'}}"


@pytest.mark.parametrize("url, address", [
    ("unix:///run/redis.sock", LinkAddress(path="/run/redis.sock")),
    ("unix:///run/r.sock?db=3&password=p%40ss", LinkAddress(path="/run/r.sock", db=3,
                                                            password="p@ss")),
    ("redis://user:secret@db.example:6380/2",
     LinkAddress(host="db.example", port=6380, db=2, username="user", password="secret")),
    ("redis://127.0.0.1", LinkAddress(host="127.0.0.1")),
    ("rediss://db.example:6380/0", None),
])
def test_addresses_from_urls(url: str, address: LinkAddress | None) -> None:
    assert link_address(url) == address


@pytest.mark.parametrize("url, problem", [
    ("unix:///run/r.sock?db=one", "db must be a number"),
    ("redis://:secret@db.example:63a9/0", "port must be a number"),
    ("redis://db.example/x", "db must be a number"),
])
def test_a_malformed_url_is_named_without_its_password(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        link_address(url)
    assert "secret" not in str(raised.value)


async def test_a_script_replies_as_through_coredis(redis_url: str, redis: Redis) -> None:
    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            through_link = await link.register_script(ECHO)(keys=["k"], args=[b"v", 21])
        through_coredis = await redis.register_script(ECHO)(keys=["k"], args=[b"v", 21])
    assert through_link == through_coredis == [b"k", b"v", 42, None, [1, b"x"]]


async def test_concurrent_callers_each_get_their_own_reply(redis_url: str) -> None:
    found: dict[int, object] = {}

    async def call(script: object, index: int) -> None:
        found[index] = await script(keys=["k"], args=[str(index), index])  # type: ignore[operator]

    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            script = link.register_script(ECHO)
            async with trio.open_nursery() as nursery:
                for index in range(200):
                    nursery.start_soon(call, script, index)
    assert found == {i: [b"k", str(i).encode(), 2 * i, None, [1, b"x"]] for i in range(200)}


async def test_a_script_redis_forgot_is_sent_again(redis_url: str, redis: Redis) -> None:
    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            script = link.register_script("return 'fresh-" + "7'")
            assert await script() == b"fresh-7"
            await redis.script_flush()  # a restart without persistence forgets scripts too
            assert await script() == b"fresh-7"


async def test_a_failing_script_is_an_error_not_a_transient_one(redis_url: str) -> None:
    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            with pytest.raises(ScriptError, match="boom") as raised:
                await link.register_script("return redis.error_reply('ERR boom')")()
            assert not isinstance(raised.value, TRANSIENT_ERRORS)
            # The connection is still good for the next call.
            assert await link.register_script("return 1")() == 1


async def test_a_cancelled_caller_does_not_shift_the_replies(redis_url: str) -> None:
    slow = ("local start = redis.call('TIME') "
            "repeat local now = redis.call('TIME') "
            "until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 100000 "
            "return 'slow'")
    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            with trio.move_on_after(0.01) as waited:
                await link.register_script(slow)()
            assert waited.cancelled_caught
            assert await link.register_script("return 'next'")() == b"next"


async def link_ids(redis: Redis) -> list[int]:
    clients = await redis.client_list()
    return [int(client["id"]) for client in clients if client.get("name") == CLIENT_NAME]


async def test_a_killed_connection_is_replaced_and_the_call_retried(
        redis_url: str, redis: Redis) -> None:
    with trio.fail_after(10):
        async with open_script_link(redis_url) as link:
            assert link is not None
            script = link.register_script("return 5")
            assert await script() == 5
            [first] = await link_ids(redis)
            await redis.client_kill(identifier=first)
            metrics = DaemonMetrics()
            assert await with_redis_retry("test", script, metrics) == 5
            assert first not in await link_ids(redis)


async def test_a_link_to_nowhere_fails_transiently(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_script_link(f"unix://{tmp_path / 'none.sock'}") as link:
            assert link is not None
            with pytest.raises(TRANSIENT_ERRORS):
                await link.register_script("return 1")()


@pytest.fixture
async def silent_listener(tmp_path: Path
                          ) -> AsyncIterator[tuple[Path, trio.socket.SocketType]]:
    """A unix socket that takes connections (bound with the standard library: trio's bind
    waits on a thread, and the autojump clock takes that wait for idleness and jumps
    past every deadline)."""
    path = tmp_path / "silent.sock"
    raw = socket.socket(socket.AF_UNIX)
    raw.bind(str(path))
    raw.listen()
    listener = trio.socket.from_stdlib_socket(raw)
    yield path, listener
    listener.close()


async def serve_silently(listener: trio.socket.SocketType, answered_commands: int,
                         accepted: list[trio.SocketStream]) -> None:
    """Accept connections and answer `answered_commands` commands on each, then nothing
    more: a Redis stopped mid-way, or a link half-open."""
    while True:
        sock, _ = await listener.accept()
        stream = trio.SocketStream(sock)
        accepted.append(stream)
        for _ in range(answered_commands):
            await stream.receive_some(1024)
            await stream.send_all(b"+OK\r\n")


@pytest.mark.parametrize("answered, waited_s, problem", [
    (1, REPLY_TIMEOUT_S, "no reply"),  # logs the link in (CLIENT SETNAME), then silence
    (0, CONNECT_TIMEOUT_S, "did not take the connection"),  # not even that
])
async def test_a_silent_server_fails_the_call_transiently_and_is_left(
        silent_listener: tuple[Path, trio.socket.SocketType],
        autojump_clock: trio.testing.MockClock,
        answered: int, waited_s: float, problem: str) -> None:
    path, listener = silent_listener
    accepted: list[trio.SocketStream] = []
    with trio.fail_after(waited_s * 3):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_silently, listener, answered, accepted)
            async with open_script_link(f"unix://{path}") as link:
                assert link is not None
                started = trio.current_time()
                with pytest.raises(LinkUnavailableError, match=problem):
                    await link.register_script("return 1")()
                assert trio.current_time() - started == pytest.approx(waited_s)
                with pytest.raises(LinkUnavailableError):  # a new connection, silent too
                    await link.register_script("return 1")()
                assert len(accepted) == 2
            nursery.cancel_scope.cancel()


async def reset_while_logging_in(listener: trio.socket.SocketType) -> None:
    """Accept a connection and close it with the login unread: the client's read fails
    with ECONNRESET (Redis SIGKILLed between accepting a connection and answering)."""
    while True:
        sock, _ = await listener.accept()
        await trio.sleep(0.05)  # the login is in the socket's buffer, unread
        sock.close()


async def test_a_connection_reset_while_logging_in_is_transient(
        silent_listener: tuple[Path, trio.socket.SocketType]) -> None:
    # It was trio.BrokenResourceError, which no retry loop takes for an outage: a Redis
    # SIGKILLed at that moment stopped the daemon.
    path, listener = silent_listener
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reset_while_logging_in, listener)
            async with open_script_link(f"unix://{path}") as link:
                assert link is not None
                with pytest.raises(LinkUnavailableError, match="link not opened"):
                    await link.register_script("return 1")()
            nursery.cancel_scope.cancel()
