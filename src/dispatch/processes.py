"""Starting `dispatch` sub-processes that announce themselves with one JSON line.

The simulator and the daemon print `{"http_port": …}` / `{"inbound_port": …}` on stdout
once listening; the demo, the benchmarks and the end-to-end tests start them with port 0
and read that line instead of guessing free ports.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import trio

READY_TIMEOUT_S = 30.0


class ProcessFailed(RuntimeError):
    """A child did not start, or exited when it should not have; `code`: its exit code
    when it exited."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Child:
    name: str
    process: trio.Process
    ready: dict[str, Any]

    async def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(timeout_s):
                return await self.process.wait()
            self.process.kill()
        return await self.process.wait()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def dispatch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dispatch", *args]


async def start_child(name: str, command: Sequence[str], log_path: Path) -> Child:
    """Start `command`, send its stderr to `log_path`, and wait for its JSON ready line."""
    log_file: BinaryIO = log_path.open("ab")
    try:
        process = await trio.lowlevel.open_process(
            list(command), stdout=subprocess.PIPE, stderr=log_file)
    finally:
        log_file.close()
    assert process.stdout is not None
    try:
        with trio.fail_after(READY_TIMEOUT_S):
            line = await read_line(process.stdout)
        return Child(name, process, json.loads(line))
    except (trio.TooSlowError, ValueError, EOFError) as exc:
        if isinstance(exc, EOFError):  # it closed its output: it is exiting
            with trio.move_on_after(READY_TIMEOUT_S):
                await process.wait()
        exited = process.returncode is not None
        if not exited:
            process.kill()
        code = await process.wait()
        if exited:  # it ended by itself: its last line on stderr says why
            said = last_line(log_path)
            raise ProcessFailed(f"{name} did not start: it exited with {code}"
                                + (f": {said}" if said else "") + f" (see {log_path})",
                                code) from None
        raise ProcessFailed(f"{name} did not start ({type(exc).__name__}); "
                            f"see {log_path}") from None


def last_line(path: Path) -> str:
    """The last non-empty line of a log file ("" when there is none)."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 4096))
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


async def read_line(stream: trio.abc.ReceiveStream) -> bytes:
    """Read up to the first newline, byte by byte so nothing after it is consumed."""
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            raise EOFError("process closed its output before announcing itself")
        line += chunk
    return bytes(line)
