"""systemd's sd_notify protocol (Type=notify units), without a dependency.

A daemon alone tells systemd itself; under `dispatch run --processes N` each worker's
NOTIFY_SOCKET is one its supervisor reads (dispatch.workers), and only the supervisor
tells systemd (NotifyAccess=main is enough).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def sd_notify(state: str) -> bool:
    """Send e.g. "READY=1" to systemd; False when not run by systemd (no NOTIFY_SOCKET) or
    when it cannot be sent. Never blocks: a reader that does not keep up loses the
    message rather than stalling the event loop."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.send(state.encode(), socket.MSG_DONTWAIT)
        except OSError:
            return False
    return True


def watchdog_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for this process (WATCHDOG_USEC, in seconds), or
    None: no watchdog, or one meant for another process (WATCHDOG_PID not ours)."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000


def fields(datagram: bytes) -> dict[str, str]:
    """A notification's assignments ("READY=1\\nSTATUS=..."), what a supervisor reads."""
    found: dict[str, str] = {}
    for line in datagram.decode(errors="replace").split("\n"):
        name, equals, value = line.partition("=")
        if equals:
            found[name] = value
    return found


def one_line(text: str) -> str:
    """STATUS= is one line: a newline would start another assignment."""
    return " ".join(text.split())
