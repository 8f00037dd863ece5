"""Reading a Redis URL (`redis://`, `rediss://`, `unix://`) without ever showing it whole:
it may hold a password. `check` refuses a malformed one naming the faulty part;
`location` is what messages say instead of the URL (host:port or socket path)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PORT = 6379


def check(url: str) -> None:
    """A ValueError naming what is wrong with `url` (its scheme, port or db), and only
    that part of it: never the password."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"must start with redis://, rediss:// or unix://, got {shown}")
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path (unix:///path/redis.sock)")
        _check_db(query.get("db", ["0"])[-1])
        return
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raw = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        raise ValueError(f"the port must be a number from 1 to 65535, got {raw[:20]!r}"
                         ) from None
    if not parts.hostname:
        raise ValueError("no host (redis://HOST:PORT)")
    _check_db(parts.path.strip("/") or query.get("db", ["0"])[-1])


def _check_db(text: str) -> None:
    if not (text.isascii() and text.isdigit()):  # "²" is a digit to isdigit, not to int()
        raise ValueError(f"the database must be a number, got {text[:20]!r}")


def location(url: str) -> str:
    """Where `url` points, for messages: "host:port", "host:port, TLS" or "unix socket
    PATH"; never the user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix socket {parts.path}"
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = DEFAULT_PORT
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" + (", TLS" if parts.scheme == "rediss" else "")
