"""Opening listening sockets, with a refusal (a port in use, a privileged port, an address
this host does not have) told in one line that names the port and the setting."""

from __future__ import annotations

import errno

import trio

from dispatch.errors import PortUnavailableError

_REASONS = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EACCES: "permission denied",
    errno.EADDRNOTAVAIL: "this host has no such address",
}


async def open_listeners(port: int, host: str | None, what: str, setting: str
                         ) -> list[trio.SocketListener]:
    """trio.open_tcp_listeners; a failure is a PortUnavailableError such as "cannot
    listen for receipts: the port is already in use (127.0.0.1:8481, daemon.inbound_port)"."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        if exc.errno == errno.EACCES and 0 < port < 1024:
            reason += " (ports below 1024 need privileges)"
        where = f"{host or '*'}:{port}, {setting}"
        raise PortUnavailableError(f"cannot listen for {what}: {reason} ({where})") from None
