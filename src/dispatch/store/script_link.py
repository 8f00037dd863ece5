"""The daemon's Lua script calls over a lean, pipelined connection of their own.

Why not coredis for these: measured on this 2-core machine (benchmarks/script_calls.py),
one EVALSHA through coredis costs its caller 157-167 µs of CPU, 95-98 µs with 8 callers at
once (anyio tasks, retry and timeout wrappers, per-command configuration lookups), and
~350 µs per call inside the loaded daemon; the same call written and read here costs
51-55 µs, 22-32 µs with 8 callers. With single submissions (an HTTP gateway that takes
one message per request) the senders' opt-out checks, the recorder and the receipt
recording make ~0.4 script calls per message, and coredis' share of them was a tenth of
the daemon's CPU. The reader's XREADGROUP goes over a second link (it blocks its
connection while it waits for entries): its replies, one entry per message, are parsed by
hiredis for ~0.2 µs an entry. Everything else (administration, claims) stays on coredis.

One connection, pipelined: callers write their command (in the order they queue for the
reply) and one reader task hands each reply to the caller that waits for it. A caller
cancelled while it waits leaves its place in the queue; its reply is read and dropped.
A failed write, a timeout or a lost connection breaks the connection: every caller still
waiting gets a `LinkUnavailableError`, a ConnectionError (transient: `with_redis_retry`
waits it out; the scripts are idempotent), and the next call connects again.

Opened by store/links.py `open_script_link`, which gives a link per master behind one
router instead on a Redis Cluster (store/cluster_link.py `ClusterScriptLink`).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import trio

from dispatch.redis_url import SentinelUrl, sentinel_url
from dispatch.store.resp import Arg, ErrorReply, ProtocolError, Reply, ReplyParser, encode_command
from dispatch.store.sentinel import exchange, master_address

CONNECT_TIMEOUT_S: Final = 10.0
# A script call that gets no reply in this time finds Redis stuck or the link half-open:
# the connection is dropped and the call retried on a new one (the daemon's scripts take
# milliseconds: an admission or record batch is at most a few thousand messages).
REPLY_TIMEOUT_S: Final = 30.0
READ_SIZE: Final = 65536
CLIENT_NAME: Final = "dispatch-scripts"
# Sent just before a command a cluster node redirected with ASK (a slot in migration):
# it lets the command in on the target, for the next command of the connection only.
ASKING: Final = encode_command(["ASKING"])
# Replies that say Redis cannot serve now but will (a failover, a restart loading its data).
# BUSY: another client's script is running past lua-time-limit; it ends or is killed.
TRANSIENT_CODES: Final = frozenset({"READONLY", "LOADING", "TRYAGAIN", "MASTERDOWN",
                                    "CLUSTERDOWN", "BUSY"})


# What ends a connection (rather than a call): the next call connects again.
LINK_FAILURES: Final = (OSError, trio.BrokenResourceError, trio.ClosedResourceError,
                        ProtocolError)


class LinkUnavailableError(ConnectionError):
    """Redis cannot serve this call now (connection lost, READONLY, LOADING...): retry."""


class ScriptError(Exception):
    """Redis refused the script call itself (a bug in a script or its arguments)."""


@dataclass(frozen=True)
class LinkAddress:
    """Where Redis listens, and how to log in: from a `redis://`, `unix://` or
    `redis+sentinel://` URL."""

    path: str = ""  # a unix socket, or
    host: str = ""
    port: int = 6379
    sentinel: SentinelUrl | None = None  # or the master these sentinels name, asked each time
    db: int = 0
    username: str = ""
    password: str = ""


def link_address(url: str) -> LinkAddress | None:
    """The address in `url`; None for what the link does not speak (TLS: `rediss://`),
    where the scripts stay on coredis. A malformed db or port is a ValueError that names
    it (never the URL: it may hold a password)."""
    parts = urlsplit(url)
    if parts.scheme == "redis+sentinel":
        found = sentinel_url(url)
        return LinkAddress(sentinel=found, db=found.db, username=found.username,
                           password=found.password)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    username = unquote(parts.username or query.get("username", ""))
    password = unquote(parts.password or query.get("password", ""))
    if parts.scheme == "unix":
        return LinkAddress(path=unquote(parts.path), db=_number(query.get("db", "0"), "db"),
                           username=username, password=password)
    if parts.scheme == "redis":
        db = _number(parts.path.strip("/") or query.get("db", "0"), "db")
        try:
            port = parts.port or 6379
        except ValueError:
            raise ValueError("the Redis URL's port must be a number") from None
        return LinkAddress(host=parts.hostname or "localhost", port=port, db=db,
                           username=username, password=password)
    return None


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"the Redis URL's {what} must be a number, got {text[:20]!r}")
    return int(text)


@dataclass(eq=False)
class _Waiter:
    done: trio.Event = field(default_factory=trio.Event)
    reply: Reply = None
    error: LinkUnavailableError | None = None

    def resolve(self, reply: Reply) -> None:
        self.reply = reply
        self.done.set()

    def fail(self, error: LinkUnavailableError) -> None:
        self.error = error
        self.done.set()


@dataclass(eq=False)
class _Connection:
    stream: trio.SocketStream
    waiting: deque[_Waiter] = field(default_factory=deque)
    outgoing: list[bytes] = field(default_factory=list)
    writing: bool = False
    broken: bool = False


class ScriptLink:
    """Script calls (and the few commands logging in needs) on one pipelined connection.
    Use `open_script_link`: the reader tasks live in its nursery."""

    def __init__(self, address: LinkAddress, nursery: trio.Nursery,
                 name: str = CLIENT_NAME) -> None:
        self._address = address
        self._nursery = nursery
        self._name = name
        self._connection: _Connection | None = None
        self._connect_lock = trio.Lock()

    def register_script(self, source: str) -> LinkScript:
        return LinkScript(self, source)

    async def command(self, args: Sequence[Arg], blocks_s: float = 0.0) -> Reply:
        """One command's reply; an error reply raises (LinkUnavailableError when Redis
        cannot serve now, ScriptError otherwise). `blocks_s`: how long a blocking command
        may wait before it replies (the reply timeout comes on top)."""
        return checked(await self.call(args, REPLY_TIMEOUT_S + blocks_s))

    async def call(self, args: Sequence[Arg], timeout_s: float = REPLY_TIMEOUT_S, *,
                   asking: bool = False) -> Reply:
        """One command's reply (an error reply is returned, not raised). `asking`: ASKING
        written just before it, in the same write (no other caller's command can come
        between them: nothing awaits here until both are queued); its reply is dropped."""
        connection = await self._connected()
        if asking:
            connection.waiting.append(_Waiter())
            connection.outgoing.append(ASKING)
        waiter = _Waiter()
        # In the order the commands are written: queued here, written by whichever caller
        # is writing already (several commands in one write) or by this one.
        connection.waiting.append(waiter)
        connection.outgoing.append(encode_command(args))
        if not connection.writing:
            await self._write(connection)
        with trio.move_on_after(timeout_s) as waited:
            await waiter.done.wait()
        if waited.cancelled_caught:
            await self._break(connection, f"no reply in {timeout_s:g} s")
        if waiter.error is not None:
            raise waiter.error
        if isinstance(waiter.reply, ErrorReply) and waiter.reply.code == "READONLY":
            # A replica now (a failover demoted it): the next call connects to the master.
            await self._break(connection, "the server became a replica")
        return waiter.reply

    async def _write(self, connection: _Connection) -> None:
        connection.writing = True
        try:
            while connection.outgoing:
                data = b"".join(connection.outgoing)
                connection.outgoing.clear()
                await connection.stream.send_all(data)
        except BaseException as exc:  # a write cut short leaves the stream unusable
            await self._break(connection, f"a write failed ({type(exc).__name__})")
            if isinstance(exc, LINK_FAILURES):
                raise LinkUnavailableError(f"Redis link lost: {exc!r}") from exc
            raise
        finally:
            connection.writing = False

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._break(self._connection, "the link is closed")

    async def _connected(self) -> _Connection:
        if self._connection is not None and not self._connection.broken:
            return self._connection  # the common case, without the lock's checkpoint
        async with self._connect_lock:
            if self._connection is None or self._connection.broken:
                self._connection = await self._connect()
                self._nursery.start_soon(self._read, self._connection)
            return self._connection

    async def _connect(self) -> _Connection:
        # A timeout is a transient failure like a refused connection (trio's own
        # TooSlowError is not one the retry loop knows).
        # So is a connection broken while logging in (Redis killed between accepting it
        # and answering): trio's BrokenResourceError is no OSError, and escaped the retry
        # loop and stopped the daemon.
        try:
            with trio.move_on_after(CONNECT_TIMEOUT_S):
                return _Connection(await open_stream(self._address, self._name))
        except LINK_FAILURES as exc:
            raise LinkUnavailableError(
                f"Redis link not opened: {type(exc).__name__}: {exc}") from exc
        raise LinkUnavailableError(
            f"Redis did not take the connection within {CONNECT_TIMEOUT_S:g} s")

    async def _read(self, connection: _Connection) -> None:
        """Hand each reply to its caller, until the connection breaks."""
        parser = ReplyParser()
        try:
            while not connection.broken:
                data = await connection.stream.receive_some(READ_SIZE)
                if not data:
                    raise ConnectionResetError("Redis closed the connection")
                parser.feed(data)
                for reply in parser.replies():
                    if not connection.waiting:
                        raise ProtocolError("a reply no call was waiting for")
                    connection.waiting.popleft().resolve(reply)
        except LINK_FAILURES as exc:
            await self._break(connection, f"{type(exc).__name__}: {exc}")

    async def _break(self, connection: _Connection, reason: str) -> None:
        """Close the connection; every call still waiting on it fails (transiently)."""
        if connection.broken:
            return
        connection.broken = True
        while connection.waiting:
            connection.waiting.popleft().fail(LinkUnavailableError(f"Redis link lost: {reason}"))
        if self._connection is connection:
            self._connection = None
        with trio.CancelScope(shield=True):
            await connection.stream.aclose()


class LinkScript:
    """A Lua script called by its SHA1, sent whole once when Redis does not know it (a
    restart, a SCRIPT FLUSH): called as coredis' registered scripts are."""

    def __init__(self, link: ScriptLink, source: str) -> None:
        self._link = link
        self._source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str | bytes] = (), args: Sequence[Any] = ()
                       ) -> Any:
        tail = [len(keys), *keys, *args]
        reply = await self._link.call(["EVALSHA", self.sha, *tail])
        if isinstance(reply, ErrorReply) and reply.code == "NOSCRIPT":
            reply = await self._link.call(["EVAL", self._source, *tail])
        return checked(reply)


def checked(reply: Reply) -> Reply:
    """The reply; an error reply raised: LinkUnavailableError when Redis cannot serve now
    (TRANSIENT_CODES), ScriptError otherwise."""
    if isinstance(reply, ErrorReply):
        if reply.code in TRANSIENT_CODES:
            raise LinkUnavailableError(reply.message)
        raise ScriptError(reply.message)
    return reply


async def open_stream(address: LinkAddress, name: str) -> trio.SocketStream:
    """A connection to `address`, logged in and named `name`."""
    if address.path:
        stream = await trio.open_unix_socket(address.path)
    elif address.sentinel is not None:
        stream = await trio.open_tcp_stream(*await master_address(address.sentinel))
    else:
        stream = await trio.open_tcp_stream(address.host, address.port)
    try:
        await _log_in(stream, address, name)
        if address.sentinel is not None:
            await _check_master(stream)
    except BaseException:
        await stream.aclose()
        raise
    return stream


async def _log_in(stream: trio.SocketStream, address: LinkAddress, name: str) -> None:
    """AUTH and SELECT as the URL asks, and a name that tells this connection apart in
    CLIENT LIST; one command at a time, before any script."""
    commands: list[list[Arg]] = []
    if address.password:
        commands.append(["AUTH", *([address.username] if address.username else []),
                         address.password])
    if address.db:
        commands.append(["SELECT", address.db])
    commands.append(["CLIENT", "SETNAME", name])
    for command in commands:
        reply = await exchange(stream, command)
        if isinstance(reply, ErrorReply):
            raise ScriptError(f"{command[0]!r} refused: {reply.message}")


async def _check_master(stream: trio.SocketStream) -> None:
    """The server the sentinels named is the master still (not one demoted meanwhile)."""
    role = await exchange(stream, ["ROLE"])
    if not (isinstance(role, list) and role and role[0] == b"master"):
        raise ConnectionRefusedError("the server the sentinels named is not the master")
