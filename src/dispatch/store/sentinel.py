"""Finding the master through Redis Sentinel: for coredis (a client whose connections ask
the sentinels where the master is each time they connect: after a failover, the promoted
replica) and for the daemon's own links (`master_address`, asked at each connection).

A connection to a server that is no longer the master (demoted while it was away) is
refused at once: coredis checks ROLE on connecting, the links do the same.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import coredis
import trio
from coredis.connection import TCPLocation
from coredis.retry import RetryPolicy

from dispatch.redis_url import SentinelUrl
from dispatch.store.resp import Arg, ErrorReply, ProtocolError, Reply, ReplyParser, encode_command

ASK_TIMEOUT_S: Final = 2.0  # a sentinel that does not answer this soon: ask the next
READ_SIZE: Final = 4096


class NoMasterError(ConnectionError):
    """No sentinel could say where the master is (all down, or none knows the name)."""


@asynccontextmanager
async def sentinel_client(found: SentinelUrl, retry_policy: RetryPolicy | None = None
                          ) -> AsyncIterator[Any]:
    """A coredis client of the master `found` names, open for the block."""
    context = ssl.create_default_context() if found.tls else None
    sentinel_login = {"username": found.sentinel_username or None,
                      "password": found.sentinel_password or None, "ssl_context": context,
                      "decode_responses": False}
    options: dict[str, Any] = {} if retry_policy is None else {"retry_policy": retry_policy}
    sentinel: Any = coredis.Sentinel(
        [TCPLocation(host, port) for host, port in found.sentinels],
        sentinel_kwargs=sentinel_login, decode_responses=False, **options)
    primary = sentinel.primary_for(found.master, db=found.db,
                                   username=found.username or None,
                                   password=found.password or None, ssl_context=context)
    async with sentinel, primary:
        yield primary


async def master_address(found: SentinelUrl) -> tuple[str, int]:
    """Where the master is, as the first sentinel that knows says (NoMasterError when
    none does)."""
    reasons: list[str] = []
    for host, port in found.sentinels:
        try:
            with trio.fail_after(ASK_TIMEOUT_S):
                reply = await _ask(host, port, found)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, ProtocolError) as exc:
            reasons.append(f"{host}:{port}: {type(exc).__name__}")
            continue
        if isinstance(reply, list) and len(reply) == 2:
            address, master_port = reply
            if isinstance(address, bytes) and isinstance(master_port, bytes):
                return address.decode(), int(master_port)
        reasons.append(f"{host}:{port}: knows no master {found.master!r}")
    raise NoMasterError(f"no sentinel gave the master's address ({'; '.join(reasons)})")


async def _ask(host: str, port: int, found: SentinelUrl) -> Reply:
    stream = await trio.open_tcp_stream(host, port)
    try:
        commands: list[list[Arg]] = []
        if found.sentinel_password:
            commands.append(["AUTH", *([found.sentinel_username]
                                       if found.sentinel_username else []),
                             found.sentinel_password])
        commands.append(["SENTINEL", "get-master-addr-by-name", found.master])
        reply: Reply = None
        for command in commands:
            reply = await exchange(stream, command)
            if isinstance(reply, ErrorReply):
                raise ProtocolError(f"the sentinel refused {command[0]!r}: {reply.message}")
        return reply
    finally:
        await stream.aclose()


async def exchange(stream: trio.SocketStream, command: list[Arg]) -> Reply:
    """Send one command, read its one reply."""
    await stream.send_all(encode_command(command))
    parser = ReplyParser()
    while True:
        data = await stream.receive_some(READ_SIZE)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        parser.feed(data)
        replies = parser.replies()
        if replies:
            return replies[0]
