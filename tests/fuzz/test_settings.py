"""Fuzzing the TOML settings: any document — valid TOML with any keys and values of any
type (NaN, infinities, huge integers, lone surrogates, NUL, line breaks in keys and
values), broken TOML, bytes that are not UTF-8 — loads as Settings or raises ConfigError
with a one-line message, never any other exception."""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.settings import (
    AnswerSettings,
    ConfigError,
    DaemonSettings,
    EnqueueSettings,
    GatewaySettings,
    RedisSettings,
    RetentionSettings,
    Settings,
    load_settings,
)

from .profiles import fed, fuzz
from .strategies import HUGE_FIELD, NASTY_TEXT

SECTIONS: Final[dict[str, type[Any]]] = {
    "redis": RedisSettings, "enqueue": EnqueueSettings, "daemon": DaemonSettings,
    "retention": RetentionSettings, "answers": AnswerSettings,
}
SECTION_KEYS: Final = {name: [f.name for f in dataclasses.fields(cls)]
                       for name, cls in SECTIONS.items()}
GATEWAY_KEYS: Final = [f.name for f in dataclasses.fields(GatewaySettings)]
POOL_KEYS: Final = ["gateway", "rate", "burst", "concurrency", "lines", "x"]
LINE_KEYS: Final = ["range", "numbers", "pattern", "rate", "burst", "concurrency"]
CAP_KEYS: Final = ["bind_rate", "binds", "window", "x"]


# --- a TOML writer (the standard library only reads) -----------------------------------

def _string(value: str) -> str:
    out = []
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")  # a surrogate's escape: TOML refuses it
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise AssertionError(value)


def toml_document(tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for header, table in tables.items():
        lines.append(f"[{header}]")
        lines.extend(f"{_string(k)} = {toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


# --- values of every kind, each section's keys and unknown ones --------------------------

INT64: Final = st.integers(-(1 << 63), (1 << 63) - 1)
SCALARS: Final = st.one_of(
    st.integers(-3, 70_000), INT64, st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.0, -0.0, 1e-300, float("nan"), float("inf"), 3600, 3601]),
    st.booleans(), NASTY_TEXT,
    st.sampled_from(["", "smpp", "http", "voice", "hex", "dec", "transmitter", "signed",
                     "none", "redis://localhost:6379/0", "unix:///tmp/r.sock?db=²",
                     "redis://localhost/²", "redis://localhost/1", "unix:///r.sock?db=7",
                     "redis://h:99999", "rediss://[::1", "+33700000000-+33700000009",
                     "TRUNK{001..120}", "TRUNK{1..99999999}", "{identity} {client}",
                     "{nope}", "{", "FR", "ZZ"]))
VALUES: Final = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(LINE_KEYS), NASTY_TEXT), inner, max_size=3)),
    max_leaves=6)
BREAKS: Final = st.sampled_from(["a\nb", "\r", "x\u2028", "\x85", "\x0c"])
NAMES: Final = st.one_of(st.sampled_from(["default", "sms", "a.b", "x-y"]), BREAKS, NASTY_TEXT)


def _table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.one_of(st.sampled_from(keys), BREAKS, NASTY_TEXT), VALUES,
                           max_size=4)


LINE_DECLARATIONS: Final = st.lists(
    st.dictionaries(st.sampled_from(LINE_KEYS), VALUES, max_size=3), max_size=3)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for section in draw(st.lists(st.sampled_from(list(SECTIONS)), max_size=3, unique=True)):
        tables[section] = draw(_table(SECTION_KEYS[section]))
    for name in draw(st.lists(NAMES, max_size=2, unique=True)):
        tables[f"gateways.{_string(name)}"] = draw(_table(GATEWAY_KEYS))
    for name in draw(st.lists(NAMES, max_size=2, unique=True)):
        pool = draw(_table(POOL_KEYS))
        if draw(st.booleans()):
            pool["lines"] = draw(LINE_DECLARATIONS)
        tables[f"pools.{_string(name)}"] = pool
    for name in draw(st.lists(NAMES, max_size=1)):
        tables[f"gateway_caps.{_string(name)}"] = draw(_table(CAP_KEYS))
    if draw(st.integers(0, 5)) == 0:
        tables[_string(draw(NASTY_TEXT))] = draw(_table(["x"]))
    return tables


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def loads_or_refuses(path: Path, data: bytes, env: dict[str, str]) -> Settings | None:
    path.write_bytes(data)
    try:
        settings = load_settings(path, env=env)
    except ConfigError as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1, message
        return None
    assert isinstance(settings, Settings)
    return settings


@fuzz(weight=1)
@given(documents(), st.dictionaries(
    st.sampled_from(["DISPATCH_REDIS_URL", "DISPATCH_STATE_DIR",
                     "DISPATCH_GATEWAY_DEFAULT_PASSWORD"]), NASTY_TEXT, max_size=2))
def test_any_toml_document_loads_or_raises_one_config_error(
    folder: Path, tables: dict[str, dict[str, Any]], env: dict[str, str],
) -> None:
    fed("settings.toml")
    text = toml_document(tables)
    settings = loads_or_refuses(folder / "fuzz.toml", text.encode(), env)
    if settings is not None:  # what loaded passed the range checks
        for gateway in settings.gateways.values():
            assert gateway.batch_size >= 1 and gateway.window >= 1
            assert math.isfinite(gateway.price_per_part) and gateway.price_per_part >= 0
        if settings.redis.url:  # the store can use it: its database is a number
            parts = urlsplit(settings.redis.url)
            db = parts.path.strip("/") if parts.scheme != "unix" else ""
            db = db or parse_qs(parts.query).get("db", ["0"])[-1]
            assert db.isascii() and int(db) >= 0


TOML_PIECES: Final = ["[", "]", "[[", "]]", "=", '"', "'", "'''", '"""', "\n", "daemon",
                      "gateways", ".", "batch_size", "1", "nan", "inf", "1979-05-27", "{",
                      "}", ",", "\\u0000", "\\ud800", "\0", "\r", "#", "0x", "1_0", "true"]


@fuzz(weight=1)
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.sampled_from(TOML_PIECES), NASTY_TEXT), max_size=40).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))))
def test_any_bytes_load_or_raise_one_config_error(folder: Path, data: bytes) -> None:
    fed("settings.bytes")
    loads_or_refuses(folder / "fuzz.toml", data, {})


@pytest.mark.parametrize("document", [
    '[daemon]\n"{}" = 1\n', '[daemon]\nconsumer = "{}"\n', '[gateways."{}"]\ntype = "smpp"\n'],
    ids=["key", "value", "gateway-name"])
def test_a_ten_megabyte_key_or_value_loads_or_raises_one_config_error(
    folder: Path, document: str,
) -> None:
    fed("settings.10mb")
    text = document.replace("{}", "\u00e9" * (HUGE_FIELD // 2))
    settings = loads_or_refuses(folder / "big.toml", text.encode(), {})
    assert settings is None or len(settings.daemon.consumer) in (0, HUGE_FIELD // 2)
