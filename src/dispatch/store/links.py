"""Opening the daemon's own Redis links: one `ScriptLink` (store/script_link.py) to a single
Redis or a Sentinel's master, a `ClusterScriptLink` (store/cluster_link.py) to a cluster's
masters, or None where the links do not go (TLS: coredis serves)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

import trio

from dispatch.redis_url import cluster_url, is_cluster
from dispatch.store.cluster_link import ClusterScriptLink
from dispatch.store.script_link import CLIENT_NAME, ScriptLink, link_address


class _Closing(Protocol):
    async def aclose(self) -> None: ...


L = TypeVar("L", bound=_Closing)


@asynccontextmanager
async def open_script_link(url: str, name: str = CLIENT_NAME
                           ) -> AsyncIterator[ScriptLink | ClusterScriptLink | None]:
    """A link to the Redis at `url`, for the block; `name`: its connections' name in
    CLIENT LIST. Nothing is connected before the first call."""
    if is_cluster(url):
        found = cluster_url(url)
        if found.tls:
            yield None
            return
        async with _running(lambda nursery: ClusterScriptLink(found, nursery, name)) as routed:
            yield routed
        return
    address = link_address(url)
    if address is None:
        yield None
        return
    async with _running(lambda nursery: ScriptLink(address, nursery, name)) as link:
        yield link


@asynccontextmanager
async def _running(make: Callable[[trio.Nursery], L]) -> AsyncIterator[L]:
    """The link `make` builds, its reader tasks in a nursery of their own; closed after."""
    async with trio.open_nursery() as nursery:
        link = make(nursery)
        try:
            yield link
        finally:
            await link.aclose()
            nursery.cancel_scope.cancel()
