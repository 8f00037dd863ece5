"""The last look at the opt-out list, right before a batch goes to the gateway.

Admission already checked each message; this catches a STOP that landed while the message
waited inside a daemon (in a channel, a retry, its window), on this daemon or another.
One Redis round trip per batch (per sender line in it), never one per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from dispatch.daemon.messages import Message
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.daemon.sender import OptOutCheck
from dispatch.gateways.base import Outbound
from dispatch.store.optout import OptOutStore, scopes_for_sender


def optout_check(optouts: OptOutStore, metrics: DaemonMetrics) -> OptOutCheck:
    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        by_sender: dict[str, list[int]] = {}
        for index, item in enumerate(outbound):
            by_sender.setdefault(item.sender, []).append(index)
        stopped = [False] * len(outbound)
        for sender, indexes in by_sender.items():
            numbers = [outbound[i].to for i in indexes]
            flags = await with_redis_retry("optout_check", partial(
                optouts.opted_out_many, numbers, scopes_for_sender(sender)), metrics)
            for index, flag in zip(indexes, flags, strict=True):
                stopped[index] = flag
        return stopped
    return check
