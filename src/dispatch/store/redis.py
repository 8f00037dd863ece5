"""Opening the Redis client: the configured URL, or the embedded server.

Redis is asked to answer (PING) before the client is handed over, so that a Redis that is
not there is one line saying what and where (RedisUnavailableError), not a traceback from
the first command. Only a command that writes (`enqueue`, `optout add`, the daemon)
starts a new, empty embedded Redis; a read finds none and says so.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis
import trio
from coredis.retry import NoRetryPolicy, RetryPolicy

from dispatch.errors import RedisUnavailableError
from dispatch.keys import Keys
from dispatch.redis_url import (
    ClusterUrl,
    cluster_url,
    is_cluster,
    is_sentinel,
    location,
    sentinel_url,
)
from dispatch.settings import Settings
from dispatch.store.cluster import relayout
from dispatch.store.layout import upgrade_layout
from dispatch.store.script_link import LinkUnavailableError
from dispatch.store.sentinel import NoMasterError, sentinel_client
from dispatch.store.server import ensure_embedded, existing_embedded

Redis = coredis.Redis[bytes]

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 10.0  # a PING unanswered this long: Redis is not there (or stuck)
WAIT_DELAY_MAX_S = 2.0  # wait_for_redis asks again at most this long after a refusal
WAIT_REPORT_S = 30.0  # ... and says again that it waits at least this often
# A Redis Cluster client's connections to each node: the daemon's tasks each hold one
# while a command is out (coredis' 32 for the whole cluster ran out, and waited for ever,
# when a master died with replies and receipts pouring in).
CLUSTER_CONNECTIONS = 128
CLUSTER_POOL_TIMEOUT_S = 10.0  # waiting longer for a free connection fails (transient)


class RedisRefused(RedisUnavailableError):
    """Something answered at the URL's address but cannot be used with it (the login
    refused, not Redis at all): waiting will not help, the URL has to change."""


async def resolve_url(settings: Settings, *, start: bool = False) -> str:
    """The configured Redis URL, else the embedded server's: started when `start` (a
    command that writes), else only if it runs or left data to load (a read never starts
    a new, empty one)."""
    if settings.redis.url:
        return settings.redis.url
    state_dir = Path(settings.state_dir)
    return await (ensure_embedded(state_dir) if start else existing_embedded(state_dir))


def where(settings: Settings, url: str) -> str:
    """Where Redis is, for messages: host:port, a socket, or the embedded one's state
    directory; never the URL's credentials."""
    if not settings.redis.url:
        return f"embedded Redis, state dir {settings.state_dir}"
    return location(url)


@asynccontextmanager
async def open_redis(settings: Settings, *, start: bool = False) -> AsyncIterator[Redis]:
    """The client, open for the block, once Redis has answered a PING (else
    RedisUnavailableError). `start`: see `resolve_url`.

    coredis runs a task group underneath, which wraps whatever the block raises in an
    exception group; a lone exception is unwrapped so callers see (and catch) the error
    they raised. A connection lost on the way is a RedisUnavailableError too."""
    url = await resolve_url(settings, start=start)
    place = where(settings, url)
    try:
        async with _client(url) as client:
            await _answers(client, place)
            await _upgraded(client, settings)
            yield client
    except BaseExceptionGroup as group:
        raise _unavailable(_sole_exception(group), place, "lost the connection to Redis"
                           ) from None
    except LOST as exc:
        raise _unavailable(exc, place, "lost the connection to Redis") from None


async def _upgraded(client: Any, settings: Settings) -> None:
    """Keys of an older layout renamed (store/layout.py), unless this login may not: a
    user limited to reads, say, goes on (its commands read what a writer upgrades)."""
    try:
        await upgrade_layout(client, Keys(settings.redis.key_prefix))
    except coredis.exceptions.AuthorizationError as exc:
        log.warning("keys not checked for an older layout: %s", _first_line(exc))


async def wait_for_redis(settings: Settings, url: str,
                         report: Callable[[str], None] = log.warning) -> None:
    """Return once the Redis at `url` answers a PING. Until then, `report` why not: at
    once, when the reason changes, and every WAIT_REPORT_S. A refused login, or something
    that is not Redis, is raised (RedisRefused): waiting will not help."""
    place = where(settings, url)
    delay, told, told_at = 0.05, "", -WAIT_REPORT_S
    while True:
        try:
            async with _client(url, NoRetryPolicy()) as client:
                await _answers(client, place, "waiting for Redis before saying ready")
            return
        except RedisRefused:
            raise
        except BaseExceptionGroup as group:
            error = _sole_exception(group)
            if isinstance(error, RedisRefused) or not isinstance(
                    error, RedisUnavailableError):
                raise error from None
            waiting = str(error)
        except RedisUnavailableError as exc:
            waiting = str(exc)
        if waiting != told or trio.current_time() - told_at >= WAIT_REPORT_S:
            report(waiting)
            told, told_at = waiting, trio.current_time()
        await trio.sleep(delay)
        delay = min(delay * 2, WAIT_DELAY_MAX_S)


@asynccontextmanager
async def _client(url: str, retry_policy: RetryPolicy | None = None) -> AsyncIterator[Any]:
    """A coredis client of the Redis at `url` (through the sentinels for a Sentinel URL,
    the cluster's nodes for a Cluster URL), open for the block."""
    if is_sentinel(url):
        async with sentinel_client(sentinel_url(url), retry_policy) as primary:
            yield primary
        return
    options: dict[str, Any] = {} if retry_policy is None else {"retry_policy": retry_policy}
    client: Any = (_cluster_client(cluster_url(url), options) if is_cluster(url)
                   else coredis.Redis.from_url(url, decode_responses=False, **options))
    async with client:
        yield client


def _cluster_client(found: ClusterUrl, options: dict[str, Any]) -> Any:
    """A client of the cluster `found` names: it asks the first node that answers for the
    others and the slots each serves, follows MOVED and ASK, and asks again after a
    failover (CLUSTERDOWN, a node lost)."""
    return coredis.RedisCluster(
        startup_nodes=[{"host": host, "port": port} for host, port in found.nodes],
        username=found.username or None, password=found.password or None, ssl=found.tls,
        decode_responses=False, max_connections=CLUSTER_CONNECTIONS,
        max_connections_per_node=True, pool_timeout=CLUSTER_POOL_TIMEOUT_S, **options)


async def ping(client: Redis, place: str) -> None:
    """One PING on `client` (a daemon's health check), bounded as `_answers` is:
    RedisUnavailableError when Redis at `place` does not answer."""
    await _answers(client, place, "no answer from Redis")


async def _answers(client: Any, place: str, what: str = "cannot reach Redis") -> None:
    """Redis at `place` answers a PING within ANSWER_TIMEOUT_S, or RedisUnavailableError
    "<what>: <why> (<place>)". The time is real time (time.monotonic): a test's clock that
    jumps ahead whenever every task waits (trio's autojump) must not end a PING that
    Redis is answering; such a jump only asks again."""
    give_up = time.monotonic() + ANSWER_TIMEOUT_S
    while (left := give_up - time.monotonic()) > 0:
        with trio.move_on_after(left):
            try:
                await client.ping()
            except BaseExceptionGroup as group:
                raise _unavailable(_sole_exception(group), place, what) from None
            except LOST as exc:
                raise _unavailable(exc, place, what) from None
            except coredis.exceptions.RedisClusterError as exc:
                # A node of the client's map is gone (a failover): ask the cluster again.
                relayout(client, exc)
                raise RedisUnavailableError(f"{what}: {_first_line(exc)} ({place})") from None
            return
    raise RedisUnavailableError(
        f"{what}: no answer within {ANSWER_TIMEOUT_S:g} s ({place})")


def _unavailable(error: BaseException, place: str, what: str) -> BaseException:
    """`error` told in one line (what, why, where) if it says Redis cannot be used;
    anything else is returned as it is."""
    if isinstance(error, RedisUnavailableError):
        return error
    if isinstance(error, coredis.exceptions.AuthenticationRequiredError):
        return RedisRefused(f"Redis requires a password and the URL gives none ({place})")
    if isinstance(error, coredis.exceptions.AuthenticationError):
        why = _first_line(error).rstrip(".") or "wrong user or password"
        return RedisRefused(f"Redis refused the login: {why} ({place})")
    if isinstance(error, coredis.exceptions.AuthorizationError):
        return RedisRefused(f"Redis refused this user: {_first_line(error)} ({place})")
    if isinstance(error, coredis.exceptions.InvalidResponse):  # an HTTP proxy, say
        return RedisRefused(f"{what}: what answers there is not Redis: "
                            f"{_first_line(error)} ({place})")
    if isinstance(error, LOST):
        return RedisUnavailableError(f"{what}: {_reason(error)} ({place})")
    return error


def _reason(error: BaseException) -> str:
    """Why a connection failed, in a few words, from the errors it was raised from."""
    seen: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in seen:
        seen.append(cause)
        if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
            cause = cause.exceptions[0]
            continue
        if isinstance(cause, socket.gaierror):
            return "no such host"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, FileNotFoundError):
            return "no such socket"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return _first_line(error) or type(error).__name__


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""


def _sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return group


# A connection that could not be made, was lost, or refused our login: Redis cannot serve.
# Through sentinels: none knows the master, or the server named is no master (any more).
LOST: tuple[type[Exception], ...] = (
    coredis.exceptions.ConnectionError,
    coredis.exceptions.PrimaryNotFoundError,
    coredis.exceptions.StalePrimaryError,
    NoMasterError,
    coredis.exceptions.AuthenticationError,
    coredis.exceptions.AuthorizationError,
    coredis.exceptions.InvalidResponse,
    LinkUnavailableError,
)

# Whatever a Redis call may raise: the server refused it, or could not be reached.
REDIS_ERRORS: tuple[type[BaseException], ...] = (coredis.exceptions.RedisError, OSError)

# Failures that pass (a restart, a failover, a dropped connection): worth waiting out.
# Anything else (a script error, a wrong type) is a bug and must not be retried forever.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    coredis.exceptions.ConnectionError,
    coredis.exceptions.ReadOnlyError,
    coredis.exceptions.TryAgainError,
    coredis.exceptions.ClusterDownError,
    coredis.exceptions.PrimaryNotFoundError,  # a failover under way
    coredis.exceptions.StalePrimaryError,
    TimeoutError,
    OSError,
    LinkUnavailableError,  # an OSError too; named for whoever reads this list
)


def is_transient(exc: BaseException) -> bool:
    """A failure worth waiting out: TRANSIENT_ERRORS, or Redis answering BUSY (another
    client's script running past lua-time-limit: it ends, or is killed, and Redis serves
    again; coredis has no class of its own for it)."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return (isinstance(exc, coredis.exceptions.ResponseError)
            and str(exc).startswith("BUSY "))
