"""What a Redis Cluster needs beyond what coredis' cluster client does by itself.

- Its masters one by one (`primaries`): for what is asked of each server (its settings)
  rather than of a key.
- A key on each master (`key_per_primary`): replication is per master, so waiting for the
  replicas to have every write made so far means a marker written, and waited for, on
  every master (store/replication.py).
- Telling the client its map of the cluster is stale (`relayout`): coredis asks the
  cluster again after errors it saw itself on a node; a PING sent to every node, one of
  which died before its replica took over, fails as a whole without counting as one, so a
  daemon waiting for Redis to answer would wait on the stale map for ever.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any, Final

import coredis
from coredis._utils import hash_slot

# coredis asks the cluster for its layout again once it saw this many errors.
LAYOUT_ERRORS: Final = 2
MARKER_TRIES: Final = 10_000  # tags tried for a key on every master (a few dozen do)


def is_cluster(client: Any) -> bool:
    return isinstance(client, coredis.RedisCluster)


def relayout(client: Any, error: Exception) -> None:
    """Have coredis ask the cluster for its layout again (a failover moved slots)."""
    layout = client.connection_pool.cluster_layout
    for _ in range(LAYOUT_ERRORS):
        layout.report_errors(None, error)


async def primaries(client: Any) -> AsyncIterator[Any]:
    """A client of each master the cluster has now, open while the caller uses it."""
    for node in client.primaries:
        async with node:
            yield node


async def key_per_primary(client: Any, base: str) -> list[str]:
    """Keys `base` + "{n}", one in the slots of each master, as CLUSTER SLOTS says."""
    ranges: dict[Any, list[tuple[int, int]]] = {}
    for (first, last), nodes in (await _slots(client)).items():
        owner = nodes[0]["node_id"] if nodes else None
        ranges.setdefault(owner, []).append((int(first), int(last)))
    keys: dict[Any, str] = {}
    for tag in itertools.islice(itertools.count(), MARKER_TRIES):
        key = f"{base}{{{tag}}}"
        slot = hash_slot(key.encode())
        owner = next((node for node, spans in ranges.items()
                      if any(first <= slot <= last for first, last in spans)), None)
        if owner is not None:
            keys.setdefault(owner, key)
        if len(keys) == len(ranges):
            break
    return list(keys.values())


async def _slots(client: Any) -> dict[Any, Any]:
    """CLUSTER SLOTS, asked of the masters one after the other until one answers (the
    cluster client would ask each and fail if any is down)."""
    for node in client.primaries:
        try:
            async with node:
                slots: dict[Any, Any] = await node.cluster_slots()
                return slots
        except (coredis.exceptions.RedisError, OSError) as exc:
            relayout(client, exc)
    raise coredis.exceptions.ConnectionError("no master of the cluster answered")
