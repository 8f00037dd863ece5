"""Collecting items from a channel into batches: one Redis call per batch, not per item."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import trio

T = TypeVar("T")


def drain_ready(receive: trio.MemoryReceiveChannel[T], batch: list[T], limit: int) -> None:
    """Append to `batch` whatever is already waiting, up to `limit` items in all."""
    while len(batch) < limit:
        try:
            batch.append(receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return


async def gather_ready(receive: trio.MemoryReceiveChannel[T], batch: list[T], limit: int,
                       rounds: int) -> None:
    """As `drain_ready`, after letting `rounds` scheduling rounds pass (each one runs the
    tasks that were ready, draining after it): items that tasks woken at the same moment
    are about to send join the batch. No timer: on an idle process a round passes at once."""
    drain_ready(receive, batch, limit)
    for _ in range(rounds):
        if len(batch) >= limit:
            return
        await trio.lowlevel.checkpoint()
        drain_ready(receive, batch, limit)


async def batches(receive: trio.MemoryReceiveChannel[T], limit: int, linger_s: float
                  ) -> AsyncIterator[list[T]]:
    """Yield batches of up to `limit` items; after the first item of a batch, wait at most
    `linger_s` for more. Ends when the channel is closed and empty."""
    while True:
        try:
            batch = [await receive.receive()]
        except trio.EndOfChannel:
            return
        drain_ready(receive, batch, limit)
        if len(batch) < limit and linger_s > 0:
            with trio.move_on_after(linger_s):
                while len(batch) < limit:
                    try:
                        batch.append(await receive.receive())
                    except trio.EndOfChannel:
                        break
        yield batch


async def hand_over(channel: trio.MemorySendChannel[T], items: list[T]) -> None:
    """Put a whole batch in the channel before yielding, so that the consumers wake up to
    full batches (an awaited send per item lets a consumer wake up with one item each)."""
    for item in items:
        try:
            channel.send_nowait(item)
        except trio.WouldBlock:
            await channel.send(item)
