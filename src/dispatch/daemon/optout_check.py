"""The last look at the opt-out list, right before a batch goes to the gateway.

Admission already checked each message; this catches a STOP that landed while the message
waited inside a daemon (in a channel, a retry, its window), on this daemon or another.
One Redis round trip per batch, whatever its lines, never one per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from dispatch.daemon.messages import Message
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.daemon.sender import OptOutCheck
from dispatch.store.optout import OptOutStore
from dispatch.vocabulary import Outbound


def optout_check(optouts: OptOutStore, metrics: DaemonMetrics) -> OptOutCheck:
    async def check(messages: Sequence[Message], outbound: Sequence[Outbound]) -> list[bool]:
        # The scope of the line each message actually goes out on (a pool's campaign spreads
        # its messages over many lines): one script call for the whole batch.
        numbers = [item.to for item in outbound]
        lines = [item.sender for item in outbound]
        return await with_redis_retry("optout_check", partial(
            optouts.opted_out_by_line, numbers, lines), metrics)
    return check
