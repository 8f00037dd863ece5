"""The RESP2 codec the script link speaks: commands out, replies in, cut anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.store.resp import (
    ErrorReply,
    ProtocolError,
    Reply,
    ReplyParser,
    encode_command,
)


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert encode_command(["EVALSHA", b"ab", 2, 1.5, "é"]) == (
        b"*5\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$3\r\n1.5\r\n$2\r\n\xc3\xa9\r\n")


def test_a_bool_argument_is_refused() -> None:
    with pytest.raises(TypeError, match="bool"):
        encode_command(["SET", True])


def parsed(data: bytes) -> list[Reply]:
    parser = ReplyParser()
    parser.feed(data)
    return parser.replies()


def test_every_reply_type() -> None:
    data = (b"+OK\r\n-NOSCRIPT No matching script\r\n:42\r\n:-1\r\n$3\r\na\r\n\r\n$-1\r\n"
            b"*-1\r\n*0\r\n*3\r\n:1\r\n*1\r\n$0\r\n\r\n$-1\r\n")
    assert parsed(data) == [b"OK", ErrorReply("NOSCRIPT No matching script"), 42, -1,
                            b"a\r\n", None, None, [], [1, [b""], None]]
    assert ErrorReply("NOSCRIPT No matching script").code == "NOSCRIPT"


def test_an_error_reply_that_is_not_utf8_is_still_read() -> None:
    assert parsed(b"-ERR \xff bad\r\n") == [ErrorReply("ERR \ufffd bad")]


def test_a_reply_cut_short_waits_for_the_rest() -> None:
    parser = ReplyParser()
    parser.feed(b"*2\r\n:1\r\n$5\r\nab")
    assert parser.replies() == []
    parser.feed(b"cde\r\n:7")
    assert parser.replies() == [[1, b"abcde"]]
    parser.feed(b"\r\n")
    assert parser.replies() == [7]


@pytest.mark.parametrize("data, problem", [
    (b"?x\r\n", 'got "\\?" as reply type byte'),
    (b":12a\r\n", "Bad integer value"),
    (b"$-2\r\n", "Bulk string length out of range"),
    (b"$1\r\nab\r\n", "as reply type byte"),  # the bulk string runs past its length
    (b"\r\n", "as reply type byte"),
])
def test_malformed_replies_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parsed(data)


replies = st.recursive(
    st.one_of(st.binary(max_size=20), st.integers(-2**63, 2**63 - 1), st.none()),
    lambda inner: st.lists(inner, max_size=5), max_leaves=20)


def encoded(reply: Reply) -> bytes:
    if reply is None:
        return b"$-1\r\n"
    if isinstance(reply, int):
        return b":%d\r\n" % reply
    if isinstance(reply, bytes):
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    assert isinstance(reply, list)
    return b"*%d\r\n" % len(reply) + b"".join(encoded(item) for item in reply)


@settings(max_examples=200, deadline=None)
@given(st.lists(replies, min_size=1, max_size=5), st.data())
def test_replies_come_out_whole_however_the_bytes_are_cut(
        expected: list[Reply], data: st.DataObject) -> None:
    stream = b"".join(encoded(reply) for reply in expected)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    parser = ReplyParser()
    found: list[Reply] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        parser.feed(stream[start:end])
        found += parser.replies()
    assert found == expected
