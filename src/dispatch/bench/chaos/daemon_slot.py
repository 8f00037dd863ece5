"""The daemon of a chaos run: started, SIGKILLed and started again `restart_s` later (as
systemd's Restart=on-failure with RestartSec would), and watched: an exit nobody asked for
is counted, and it is started again too, so the run goes on and the ledger tells."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import trio

from dispatch.processes import Child, ProcessFailed

Starter = Callable[[], Awaitable[Child]]
RETRY_S: Final = 1.0  # between two failed starts


class DaemonSlot:
    def __init__(self, start: Starter, restart_s: float) -> None:
        self._start = start
        self._restart_s = restart_s
        self._child: Child | None = None
        self._up = trio.Event()
        self.starts = 0
        self.failed_starts = 0
        self.kills = 0
        self.unexpected_exits: list[int] = []  # exit codes of exits nobody asked for
        self._killing = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Keep a daemon running until cancelled (then stop it with SIGTERM)."""
        try:
            await self._launch()
            task_status.started()
            while True:
                assert self._child is not None
                code = await self._child.process.wait()
                self._up = trio.Event()
                if self._killing:
                    self._killing = False
                else:
                    self.unexpected_exits.append(code)
                await trio.sleep(self._restart_s)
                await self._launch()
        finally:
            with trio.CancelScope(shield=True):
                if self._child is not None:
                    await self._child.stop()

    async def kill(self) -> None:
        """SIGKILL the daemon once it is up (a kill while it restarts waits for it)."""
        await self._up.wait()
        assert self._child is not None
        self._killing = True
        self.kills += 1
        self._child.kill()

    async def _launch(self) -> None:
        while True:
            try:
                self._child = await self._start()
            except ProcessFailed:
                self.failed_starts += 1
                await trio.sleep(RETRY_S)
                continue
            self.starts += 1
            self._up.set()
            return
