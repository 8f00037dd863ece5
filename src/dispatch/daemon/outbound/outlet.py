"""Where a gateway's admitted messages wait for a sender: the gateway's line scheduler for
a campaign with a pool of lines, else the gateway's channel (every message from the
gateway's one `sender`). The reader, the retrier and the window waiter all hand messages
over here, so each lands on the right path whatever brought it back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import trio

from dispatch.daemon.batching import hand_over
from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.outbound.line_feed import LineFeed
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.window_waiter import WindowWaiter


class Outlet:
    def __init__(self, book: CampaignBook, channel: trio.MemorySendChannel[Message],
                 lines: LineFeed | None = None) -> None:
        self._book = book
        self._channel = channel
        self.lines = lines

    async def hand_over(self, campaign: str, messages: Sequence[Message]) -> None:
        """Messages of one campaign, in order."""
        if self.lines is not None and self._book.campaigns[campaign].pool:
            self.lines.push(self._book.campaigns[campaign], messages)
            await trio.lowlevel.checkpoint()
        else:
            await hand_over(self._channel, list(messages))

    async def send(self, message: Message, /) -> None:
        await self.hand_over(message.campaign, [message])

    def close(self) -> None:
        """No more messages (the line scheduler is closed once drained: LineFeed.drain)."""
        self._channel.close()


async def forward_released(waiter: WindowWaiter[Message], outlets: Mapping[str, Outlet],
                           book: CampaignBook) -> None:
    """Messages whose window opened go back to their gateway's senders; until cancelled."""
    batches_send, batches = trio.open_memory_channel[list[Message]](0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter.run, batches_send)
        async for released in batches:
            for message in released:
                await outlets[book.campaigns[message.campaign].gateway].send(message)
