"""Fuzzing what gateways post to the daemon's inbound port: receipts and replies (JSON,
gateways/http/callbacks.py) and voice callbacks (forms, gateways/voice/callbacks.py),
through the route handlers with an Inbound that stores what it is given as the daemon's
store does (msgpack, strict UTF-8). Any body gets 200 or 400, never an exception, and
what is handed over can be stored.

httpserver.py has no pure request parser (h11 inside the connection task): its request
handling is exercised by the e2e tests, not here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, Final

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from dispatch.gateways.http.callbacks import HttpCallbacks
from dispatch.gateways.voice.callbacks import VoiceCallbacks
from dispatch.httpserver import Request, Response
from dispatch.vocabulary import CallEnded, InboundMessage, Keypress, Receipt

from .profiles import fed, fuzz
from .strategies import HUGE_FIELD, NASTY_TEXT

LENIENT: Final = ("application/json", "text/plain", "application/xml")


class StoringInbound:
    """Packs everything handed over the way the store does (msgpack refuses a lone
    surrogate with UnicodeEncodeError: the issue's crash)."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []
        self.refused = 0

    def _store(self, items: Sequence[Any]) -> None:
        for item in items:  # a Receipt is a NamedTuple, an InboundMessage a dataclass
            values = item if isinstance(item, tuple) else dataclasses.astuple(item)
            fields = [v.value if hasattr(v, "value") else v for v in values]
            self.stored.append(msgpack.packb(fields))

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        self._store(receipts)

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        self._store(messages)

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        assert all(math.isfinite(e.duration_s) and e.duration_s >= 0 for e in ended)
        self._store(ended)

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        self._store(presses)

    def not_recorded(self, kind: str, count: int = 1) -> None:
        self.refused += count


def answer(awaitable: Awaitable[Response]) -> Response:
    """Run a handler that never waits (the Inbound above does not) without Trio."""
    assert isinstance(awaitable, Coroutine)
    coroutine: Coroutine[Any, Any, Response] = awaitable
    try:
        coroutine.send(None)
    except StopIteration as done:
        response: Response = done.value
        return response
    raise AssertionError("the handler waited for something")


def request(path: str, body: bytes) -> Request:
    return Request("POST", path, "", {"content-type": "application/json"}, body)


# JSON values shaped like receipts and replies, with hostile strings in every place.
KEYS: Final = st.sampled_from(["id", "status", "error_code", "from", "to", "text", "x"])
STATUS: Final = st.sampled_from(["delivered", "DELIVERED", "undeliverable", "rejected",
                                 "expired", "enroute", "accepted", "weird", ""])
SCALAR: Final = st.one_of(NASTY_TEXT, STATUS, st.integers(), st.floats(), st.booleans(),
                          st.none())
JSON: Final = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(KEYS, NASTY_TEXT), inner,
                                                 max_size=5)), max_leaves=12)
ITEM: Final = st.fixed_dictionaries(
    {"id": st.one_of(NASTY_TEXT, st.just("abc")), "status": STATUS},
    optional={"error_code": SCALAR, "from": NASTY_TEXT, "to": NASTY_TEXT, "text": NASTY_TEXT})


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Raw bytes, or JSON (as Python writes it: lone surrogates as \\ud800 escapes, or
    encoded raw with surrogatepass), possibly cut or in a wrong encoding."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=500))
    value = draw(st.one_of(ITEM, st.lists(ITEM, max_size=4), JSON))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    codec = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "cp1252"]))
    data = text.encode(codec, "surrogatepass" if codec.startswith("utf") else "replace")
    if kind == 1:
        data = data[: draw(st.integers(0, len(data)))]
    if kind == 2:  # nested arrays (not past Python's recursion limit: see the report)
        data = b"[" * draw(st.sampled_from([1, 2, 50, 500])) + data
    return data


def check(response: Response, inbound: StoringInbound) -> None:
    assert response.status in (200, 400), response
    assert response.content_type in LENIENT
    if response.status == 400:
        assert json.loads(response.body)["error"]


@fuzz(weight=3)
@given(st.sampled_from(["/receipts", "/inbound"]), bodies())
def test_any_receipt_or_reply_body_is_recorded_or_refused(path: str, body: bytes) -> None:
    fed(f"http{path}")
    inbound = StoringInbound()
    response = answer(HttpCallbacks(inbound).routes()[path](request(path, body)))
    check(response, inbound)
    if response.status == 200:
        answered = json.loads(response.body)
        assert answered["recorded"] == len(inbound.stored)


FORM_VALUES: Final = st.one_of(
    NASTY_TEXT, st.sampled_from(["completed", "busy", "no-answer", "failed", "ringing",
                                 "machine_start", "human", "inf", "nan", "-1", "1e999",
                                 "%00", "%ED%A0%80", "%FF", "9", "+33612345678"]))
FORM_NAMES: Final = st.sampled_from(["CallSid", "CallStatus", "AnsweredBy", "CallDuration",
                                     "SipResponseCode", "To", "From", "Digits", "x"])


@st.composite
def forms(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300))
    pairs = draw(st.lists(st.tuples(FORM_NAMES, FORM_VALUES), max_size=8))
    text = "&".join(f"{name}={value}" for name, value in pairs)
    return text.encode("utf-8", "surrogatepass")


@fuzz(weight=3)
@given(st.sampled_from(["/voice/status", "/voice/gather"]), forms())
def test_any_voice_callback_is_recorded_or_refused(path: str, body: bytes) -> None:
    fed(f"http{path}")
    inbound = StoringInbound()
    response = answer(VoiceCallbacks(inbound, "voice").routes()[path](request(path, body)))
    check(response, inbound)


def _strings(value: Any) -> list[str]:
    """Every string of a JSON value, keys too, without recursion (any depth)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
    return found


@fuzz(weight=4)
@given(bodies())
def test_any_body_reads_as_storable_json_or_raises_value_error(body: bytes) -> None:
    """Request.json, the inbound bodies' parser: a JSON value whose every string can be
    stored (UTF-8, no NUL), or ValueError."""
    fed("http.request.json")
    try:
        payload = request("/receipts", body).json()
    except ValueError as exc:
        assert str(exc)
        return
    for text in _strings(payload):
        assert "\0" not in text
        text.encode("utf-8")


def test_a_ten_megabyte_receipt_id_with_a_lone_surrogate_is_refused() -> None:
    """The issue's crash, with a 10 MB id: refused with 400, nothing handed over."""
    fed("http/receipts.10mb")
    body = json.dumps({"id": "x" * HUGE_FIELD + "\ud800", "status": "delivered"}).encode()
    inbound = StoringInbound()
    response = answer(HttpCallbacks(inbound).routes()["/receipts"](request("/receipts", body)))
    assert response.status == 400 and not inbound.stored
