"""Batched writes to one stream: whatever was queued since the last write leaves in one
`send_all` (the submit_sm of a batch, the answers to one read), from one task, so writes
never interleave."""

from __future__ import annotations

import math

import trio

Outgoing = bytes | trio.Event  # an event is set once everything queued before it is written


class Writer:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._send, self._queue = trio.open_memory_channel[Outgoing](math.inf)
        self.writes = 0
        # A send_all was cancelled midway: a PDU may be cut, the stream is unusable.
        self.interrupted = False

    def push(self, data: bytes) -> None:
        """Queue `data` for the next write (never blocks: bounded by the windows)."""
        self._send.send_nowait(data)

    async def flushed(self) -> None:
        """Returns once everything queued so far is written."""
        written = trio.Event()
        self._send.send_nowait(written)
        await written.wait()

    async def run(self) -> None:
        while True:
            items = [await self._queue.receive()]
            items.extend(self._queued())
            data = b"".join([item for item in items if isinstance(item, bytes)])
            if data:
                await self._write(data)
            for item in items:
                if isinstance(item, trio.Event):
                    item.set()

    async def write_now(self, last: bytes = b"") -> None:
        """With `run` stopped: write what is still queued, then `last`."""
        data = b"".join([item for item in self._queued() if isinstance(item, bytes)]) + last
        if data:
            await self._write(data)

    def _queued(self) -> list[Outgoing]:
        items: list[Outgoing] = []
        while True:
            try:
                items.append(self._queue.receive_nowait())
            except trio.WouldBlock:
                return items

    async def _write(self, data: bytes) -> None:
        self.interrupted = True
        await self._stream.send_all(data)
        self.interrupted = False
        self.writes += 1
