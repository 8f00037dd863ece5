"""Keeping an idle bind honest: enquire_link after `interval_s` with nothing received; no
answer within `timeout_s` means the link is dead (ConnectionLost), so the bind reconnects
instead of sending into a void."""

from __future__ import annotations

import trio

from dispatch.gateways.smpp.writer import Writer
from dispatch.smpp import EnquireLink, Session


class ConnectionLost(Exception):
    """Ends a connection; the message says why (logged by the bind that reconnects)."""


class Keepalive:
    def __init__(self, session: Session, writer: Writer, interval_s: float,
                 timeout_s: float) -> None:
        self._session = session
        self._writer = writer
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self.last_read = trio.current_time()  # the reader updates it on every read
        self._pending: tuple[int, trio.Event] | None = None

    def answered(self, sequence: int) -> bool:
        """An enquire_link_resp (or generic_nack) came: was it for our enquire_link?"""
        if self._pending is None or self._pending[0] != sequence:
            return False
        self._pending[1].set()
        return True

    async def run(self) -> None:
        while True:
            idle_from = self.last_read + self._interval_s
            if trio.current_time() < idle_from:
                await trio.sleep_until(idle_from)
                continue
            await self._enquire()

    async def _enquire(self) -> None:
        answered = trio.Event()
        pdu = EnquireLink()
        self._writer.push(self._session.send(pdu))
        self._pending = (pdu.sequence_number, answered)
        with trio.move_on_after(self._timeout_s):
            await answered.wait()
        if not answered.is_set():
            raise ConnectionLost(f"no answer to enquire_link within {self._timeout_s:g} s")
