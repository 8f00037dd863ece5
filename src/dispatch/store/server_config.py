"""How the Redis server is told to treat memory and persistence (CONFIG GET), read once
when the daemon starts: a server that evicts keys under memory pressure silently loses
queued messages and opt-outs, which the daemon warns about (dispatch.app)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import trio

from dispatch.store.cluster import is_cluster, primaries
from dispatch.store.redis import REDIS_ERRORS, Redis
from dispatch.store.resp import text

CONFIG_TIMEOUT_S = 5.0  # Redis answered a PING a moment ago: a slow CONFIG is only noted
NOT_SET = "unknown"  # what a setting the server did not return is shown as


@dataclass(frozen=True)
class ServerConfig:
    maxmemory_policy: str  # "noeviction" keeps every key; anything else may drop some
    appendonly: str  # "yes": an append-only file keeps writes across a restart

    @property
    def evicts(self) -> bool:
        return self.maxmemory_policy != "noeviction"


class ConfigUnreadable(Exception):
    """CONFIG GET was refused (an ACL without it, the command renamed) or not answered:
    why, in one line."""


async def server_config(redis: Redis) -> ServerConfig:
    """The server's eviction policy and AOF setting, or ConfigUnreadable. Of a Redis
    Cluster, every master's: a setting that differs between them is shown as each value
    it has, joined by commas (and evicts, unless each is noeviction)."""
    if not is_cluster(redis):
        return await _one_server(redis)
    found = [await _one_server(node) async for node in primaries(redis)]
    return ServerConfig(_joined(c.maxmemory_policy for c in found),
                        _joined(c.appendonly for c in found))


def _joined(values: Iterable[str]) -> str:
    return ",".join(sorted(set(values))) or NOT_SET


async def _one_server(redis: Redis) -> ServerConfig:
    values: dict[str, str] = {}
    try:
        with trio.fail_after(CONFIG_TIMEOUT_S):
            for name in ("maxmemory-policy", "appendonly"):  # one each: Redis < 7 takes one
                found = await redis.config_get([name])
                values.update((text(key), text(value)) for key, value in found.items())
    except trio.TooSlowError:
        raise ConfigUnreadable(f"no answer within {CONFIG_TIMEOUT_S:g} s") from None
    except REDIS_ERRORS as exc:
        raise ConfigUnreadable(_first_line(exc) or type(exc).__name__) from None
    return ServerConfig(values.get("maxmemory-policy", NOT_SET),
                        values.get("appendonly", NOT_SET))



def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""
