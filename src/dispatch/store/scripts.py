"""Lua scripts shipped in dispatch/store/lua, read as package resources."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Sequence
from importlib import resources
from typing import Any, Protocol

import msgpack


class RunScript(Protocol):
    """A registered Lua script: `await script(keys=[...], args=[...])`."""

    def __call__(self, keys: Any = ..., args: Any = ...) -> Awaitable[Any]: ...


class ScriptHost(Protocol):
    """What scripts are registered with: the coredis client, or the daemon's script link
    (dispatch.store.script_link) where the calls are on the hot path."""

    def register_script(self, script: str) -> RunScript: ...


class CommandLink(Protocol):
    """A connection that takes commands as they are written (the daemon's read link,
    dispatch.store.script_link): an error reply raises."""

    async def command(self, args: Sequence[Any], blocks_s: float = ...) -> Any: ...


BULK_PRELUDE = "_bulk"  # commands on many fields at once, before every script
STATES_PRELUDE = "_states"  # state codes and moves, shared by the scripts that move states


@functools.cache
def load_script(name: str, *, states: bool = False) -> str:
    """The source of store/lua/NAME.lua behind the prelude every script shares (_bulk.lua:
    `lookup_all`, `hset_all`, `hdel_pairs`), and with `states` the one of the scripts that
    move message states (_states.lua: the codes, `move`, `apply_final`, `ack_all`)."""
    preludes = [BULK_PRELUDE, STATES_PRELUDE] if states else [BULK_PRELUDE]
    return "\n".join([*(_read(prelude) for prelude in preludes), _read(name)])


def _read(name: str) -> str:
    return (resources.files("dispatch.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def packed(items: list[Any]) -> bytes:
    """A batch's items as one script argument (the scripts unpack it with cmsgpack, which
    in Redis 6 knows no bin type: bytes go as raw strings, which Lua strings are). One
    argument rather than thousands: the client's per-argument cost is several per cent of
    the daemon's CPU."""
    result: bytes = msgpack.packb(items, use_bin_type=False)
    return result
