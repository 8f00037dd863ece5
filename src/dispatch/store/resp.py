"""RESP2, the Redis wire protocol: commands encoded, replies parsed. Pure (no I/O).

Only what the script link needs: a command is an array of bulk strings; a reply is a
simple string, an error, an integer, a bulk string (or nil) or an array of replies (or nil).
An error reply is returned as an `ErrorReply` value, not raised: the caller decides what a
NOSCRIPT or a READONLY means. Malformed input raises `ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

CRLF: Final = b"\r\n"
# Refuse absurd lengths rather than buffer forever (Redis's own proto-max-bulk-len default).
MAX_BULK_BYTES: Final = 512 * 1024 * 1024
MAX_ARRAY_ITEMS: Final = 2**31 - 1

Arg: TypeAlias = bytes | str | int | float


@dataclass(frozen=True)
class ErrorReply:
    """An error reply (`-NOSCRIPT No matching script...`): its first word is the code."""

    message: str

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


Reply: TypeAlias = "bytes | int | ErrorReply | list[Reply] | None"


class ProtocolError(Exception):
    """The server sent something that is not RESP2 (or not what a command can get back)."""


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command as an array of bulk strings (ints and floats in decimal)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _as_bytes(arg)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(CRLF)
    return b"".join(parts)


def _as_bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):  # a bool is an int: refuse the ambiguity
        raise TypeError("a Redis argument cannot be a bool")
    if isinstance(arg, (int, float)):
        return repr(arg).encode()
    raise TypeError(f"a Redis argument must be bytes, str, int or float, not {type(arg).__name__}")


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


class ReplyParser:
    """Feed it bytes as they arrive; take the complete replies out, in order."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = 0  # where the next unparsed reply begins

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def replies(self) -> list[Reply]:
        """Every complete reply buffered so far (a reply cut short stays for later)."""
        found: list[Reply] = []
        while self._start < len(self._buffer):
            try:
                reply, self._start = self._parse(self._start)
            except _Incomplete:
                break
            found.append(reply)
        if self._start:
            del self._buffer[:self._start]
            self._start = 0
        return found

    def _line(self, at: int) -> tuple[bytes, int]:
        end = self._buffer.find(CRLF, at)
        if end < 0:
            raise _Incomplete
        return bytes(self._buffer[at:end]), end + 2

    def _parse(self, at: int) -> tuple[Reply, int]:
        line, after = self._line(at)
        if not line:
            raise ProtocolError("empty reply line")
        kind, body = line[:1], line[1:]
        if kind == b"+":
            return body, after
        if kind == b"-":
            return ErrorReply(body.decode("utf-8", "replace")), after
        if kind == b":":
            return _integer(body), after
        if kind == b"$":
            return self._bulk(_length(body, MAX_BULK_BYTES), after)
        if kind == b"*":
            return self._array(_length(body, MAX_ARRAY_ITEMS), after)
        raise ProtocolError(f"unknown reply type {kind!r}")

    def _bulk(self, length: int, at: int) -> tuple[bytes | None, int]:
        if length < 0:
            return None, at
        end = at + length
        if len(self._buffer) < end + 2:
            raise _Incomplete
        if self._buffer[end:end + 2] != CRLF:
            raise ProtocolError("bulk string not followed by CRLF")
        return bytes(self._buffer[at:end]), end + 2

    def _array(self, count: int, at: int) -> tuple[list[Reply] | None, int]:
        if count < 0:
            return None, at
        items: list[Reply] = []
        for _ in range(count):
            item, at = self._parse(at)
            items.append(item)
        return items, at


def _integer(body: bytes) -> int:
    try:
        return int(body)
    except ValueError:
        raise ProtocolError(f"bad integer {body[:20]!r}") from None


def _length(body: bytes, limit: int) -> int:
    length = _integer(body)
    if length < -1 or length > limit:
        raise ProtocolError(f"bad length {length}")
    return length
