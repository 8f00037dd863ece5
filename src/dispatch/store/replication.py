"""Waiting for replicas before acknowledging: what Redis's asynchronous replication would
lose at a failover (Sentinel promotes a replica that had not received the master's last
writes) is acknowledged only once `replicas` replicas have it.

WAIT waits for the writes of the connection it is sent on. The daemon's script link
writes on one connection: a WAIT after its writes waits for exactly them. coredis spreads
commands over a pool, where a WAIT on another connection would wait for nothing: there a
marker key is written first, under coredis' `ensure_replication` (WAIT on the marker's own
connection); replication is one ordered stream, so a replica that has the marker has every
write made before it. In a Redis Cluster each master replicates its own slots: a marker on
every master (store/cluster.py `key_per_primary`), each waited for.

Fewer replicas than asked within the timeout raises ReplicasBehind, a transient failure:
callers wait it out (the writes stand: Redis cannot take them back) and acknowledge only
once replicas confirm; a replica that stays away stops acknowledgements, as Redis's own
`min-replicas-to-write` would stop writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import coredis

from dispatch.store.cluster import is_cluster, key_per_primary
from dispatch.store.scripts import CommandLink


class ReplicasBehind(ConnectionError):
    """Fewer replicas than asked confirmed the writes in time (transient: wait it out)."""


@dataclass(frozen=True)
class Replication:
    """How many replicas must have a write before it is acknowledged (0: none, do not
    wait), and how long one wait may take before it counts as a failure."""

    replicas: int = 0
    timeout_ms: int = 1000

    async def confirmed(self, redis: Any, marker: str, link: CommandLink | None = None
                        ) -> None:
        """Return once `replicas` replicas have every write made so far on `link` (WAIT),
        or, without a link, every write made before this call (the `marker` key written,
        then waited for)."""
        if self.replicas <= 0:
            return
        if link is not None:
            got = await link.command(["WAIT", self.replicas, self.timeout_ms],
                                     blocks_s=self.timeout_ms / 1000)
            self._check(int(got))
            return
        markers = await key_per_primary(redis, marker) if is_cluster(redis) else [marker]
        try:
            for key in markers:
                with redis.ensure_replication(self.replicas, self.timeout_ms):
                    await redis.incr(key)
        except coredis.exceptions.ReplicationError as exc:
            raise ReplicasBehind(f"fewer than {self.replicas} replicas confirmed the writes "
                                 f"within {self.timeout_ms} ms ({exc})") from None

    def _check(self, got: int) -> None:
        if got < self.replicas:
            raise ReplicasBehind(f"{got} of {self.replicas} replicas confirmed the writes "
                                 f"within {self.timeout_ms} ms")


NO_WAIT: Final = Replication()  # acknowledged once the master has it
