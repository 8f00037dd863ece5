"""Reading a Redis URL (`redis://`, `rediss://`, `unix://`, Sentinel's `redis+sentinel://`
or a Cluster's `redis+cluster://`) without ever showing it whole: it may hold a password.
`check` refuses a malformed one naming the faulty part; `location` is what messages say
instead of the URL (host:port, socket path, the sentinels and the master's name, or the
cluster's nodes).

A Sentinel URL names the sentinels, then the master's name and the database:

    redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]
        [?sentinel_password=...&sentinel_username=...]

USER and PASSWORD log in to the master (and the replica promoted in its place); the
sentinels take `sentinel_password` (none by default). `rediss+sentinel://` speaks TLS to
both.

A Cluster URL names some of the cluster's nodes (any of them: the client asks the first
that answers for the others and the slots each serves); a cluster has no database number:

    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]

`rediss+cluster://` speaks TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel", "redis+cluster",
           "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelUrl:
    """What a Sentinel URL says: where the sentinels are, which master, how to log in."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str = ""
    password: str = ""
    sentinel_username: str = ""
    sentinel_password: str = ""
    tls: bool = False


@dataclass(frozen=True)
class ClusterUrl:
    """What a Cluster URL says: nodes to start from, how to log in."""

    nodes: tuple[tuple[str, int], ...]
    username: str = ""
    password: str = ""
    tls: bool = False


def is_cluster(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def cluster_url(url: str) -> ClusterUrl:
    """The parts of a Cluster URL; a ValueError naming the faulty part (never the
    password)."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = tuple(_address(item, DEFAULT_PORT, "a node") for item in hosts.split(",") if item)
    if not nodes:
        raise ValueError("no node (redis+cluster://HOST:PORT,HOST:PORT)")
    if parts.path.strip("/") or "db" in parse_qs(parts.query):
        raise ValueError("a cluster has no database number: redis+cluster://HOST:PORT,...")
    return ClusterUrl(nodes, unquote(username), unquote(password),
                      parts.scheme == "rediss+cluster")


def is_sentinel(url: str) -> bool:
    return urlsplit(url).scheme in SENTINEL_SCHEMES


def sentinel_url(url: str) -> SentinelUrl:
    """The parts of a Sentinel URL; a ValueError naming the faulty part (never the
    password)."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = tuple(_address(item, DEFAULT_SENTINEL_PORT, "a sentinel")
                      for item in hosts.split(",") if item)
    if not sentinels:
        raise ValueError("no sentinel (redis+sentinel://HOST:PORT,HOST:PORT/MASTER)")
    path = [piece for piece in parts.path.split("/") if piece]
    if not path:
        raise ValueError("no master name (redis+sentinel://HOST:PORT/MASTER)")
    if len(path) > 2:
        raise ValueError("the path is /MASTER or /MASTER/DB")
    db = path[1] if len(path) == 2 else query.get("db", "0")
    _check_db(db)
    return SentinelUrl(sentinels, unquote(path[0]), int(db), unquote(username),
                       unquote(password), unquote(query.get("sentinel_username", "")),
                       unquote(query.get("sentinel_password", "")),
                       parts.scheme == "rediss+sentinel")


def _address(item: str, default_port: int, what: str) -> tuple[str, int]:
    host, colon, port = item.rpartition(":")
    if not colon:
        return item, default_port
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"{what}'s port must be a number from 1 to 65535, got "
                         f"{port[:20]!r}")
    return host.strip("[]") or "localhost", int(port)


def check(url: str) -> None:
    """A ValueError naming what is wrong with `url` (its scheme, port or db), and only
    that part of it: never the password."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"must start with redis://, rediss://, unix://, "
                         f"redis+sentinel:// or redis+cluster://, got {shown}")
    if parts.scheme in SENTINEL_SCHEMES:
        sentinel_url(url)
        return
    if parts.scheme in CLUSTER_SCHEMES:
        cluster_url(url)
        return
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
    """Where `url` points, for messages: "host:port", "host:port, TLS", "unix socket
    PATH" or "master NAME by sentinels HOST:PORT, ..."; never the user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix socket {parts.path}"
    if parts.scheme in SENTINEL_SCHEMES:
        try:
            found = sentinel_url(url)
        except ValueError:
            return "sentinels (a malformed URL)"
        hosts = ", ".join(f"{host}:{port}" for host, port in found.sentinels)
        return (f"master {found.master} by sentinels {hosts}"
                + (", TLS" if found.tls else ""))
    if parts.scheme in CLUSTER_SCHEMES:
        try:
            nodes = cluster_url(url)
        except ValueError:
            return "cluster (a malformed URL)"
        return ("cluster of " + ", ".join(f"{host}:{port}" for host, port in nodes.nodes)
                + (", TLS" if nodes.tls else ""))
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = DEFAULT_PORT
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" + (", TLS" if parts.scheme == "rediss" else "")
