"""Pools of lines and gateway caps, parsed from a TOML-like dict — pure.

A *line* is a sender identity (a long number, a short code, a trunk channel) bound to a
gateway, with its own rate limit and concurrency. A *pool* is a named set of lines on one
gateway; a campaign names its pool. Thousands of lines are declared in a few entries and
kept as such (a block is a prefix, a counter range and a suffix), never expanded in memory
except while checking for duplicates::

    [pools.paris]
    gateway = "orange"          # a name from [gateways]
    rate = 0.2                  # messages per second per line (fractional allowed)
    burst = 1                   # tokens a line may save up, as the gateway counts them
                                # (0 or absent: one second of rate, at least 1)
    concurrency = 1             # assignments outstanding per line (calls: simultaneous calls)
    lines = [
        { range = "+33700000000-+33700009999" },             # 10,000 numbers
        { numbers = ["36111", "36112"], rate = 5, burst = 10 },   # short codes
        { pattern = "TRUNK{001..120}", concurrency = 30 },    # TRUNK001 .. TRUNK120
    ]

    [gateway_caps.orange]       # optional: what the gateway accepts in all
    bind_rate = 500             # messages per second per bind (0: no cap)
    binds = 4
    window = 100                # outstanding per bind (0: no cap)

Every error names its key: ``pools.paris.lines[2]: range end before start``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from dispatch.errors import ConfigError

MAX_LINES: Final = 1_000_000  # in all pools together: a typo in a range must not eat RAM
MAX_ADDRESS: Final = 20  # SMPP source_addr is at most 21 octets with its NUL
POOL_KEYS: Final = frozenset({"gateway", "rate", "burst", "concurrency", "lines"})
LIMIT_KEYS: Final = frozenset({"rate", "burst", "concurrency"})
KINDS: Final = ("range", "numbers", "pattern")
CAPS_KEYS: Final = frozenset({"bind_rate", "binds", "window", "burst"})
_RANGE = re.compile(r"(\+?)(\d+)-(\+?)(\d+)")
_PATTERN = re.compile(r"([^{}]*)\{(\d+)\.\.(\d+)\}([^{}]*)")


@dataclass(frozen=True, slots=True)
class LineLimits:
    rate: float  # messages per second
    burst: float = 0.0  # the gateway's bucket size; 0: max(1, rate), as the simulator does
    concurrency: int = 1  # assignments handed out and not yet released, at most


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Lines sharing their limits: listed `names`, or prefix + counter + suffix (the
    counter zero-padded to `width`, from `first` to `last` inclusive)."""

    limits: LineLimits
    names: tuple[str, ...] = ()
    prefix: str = ""
    first: int = 0
    last: int = -1
    width: int = 0
    suffix: str = ""

    def __len__(self) -> int:
        return len(self.names) + self.last - self.first + 1

    def addresses(self) -> Iterator[str]:
        yield from self.names
        for n in range(self.first, self.last + 1):
            yield f"{self.prefix}{n:0{self.width}d}{self.suffix}"


@dataclass(frozen=True, slots=True)
class PoolConfig:
    name: str
    gateway: str
    blocks: tuple[LineBlock, ...]

    def __len__(self) -> int:
        return sum(len(block) for block in self.blocks)

    def lines(self) -> Iterator[tuple[str, LineLimits]]:
        """Every line's address and limits, generated on the fly."""
        for block in self.blocks:
            for address in block.addresses():
                yield address, block.limits

    @property
    def capacity(self) -> float:
        """Messages per second the pool can carry when every line is busy."""
        return sum(len(block) * block.limits.rate for block in self.blocks)


@dataclass(frozen=True, slots=True)
class GatewayCaps:
    """Limits of a gateway as a whole (shared by its pools); 0 means no cap."""

    rate: float = 0.0  # messages per second
    burst: float = 0.0  # 0: one second of rate
    window: int = 0  # assignments handed out and not yet released

    @classmethod
    def per_bind(cls, bind_rate: float, binds: int, window: int, burst: float = 0.0
                 ) -> GatewayCaps:
        """Caps of `binds` connections each allowed `bind_rate`/s and `window` outstanding."""
        bind_burst = burst if burst > 0 else max(1.0, bind_rate)
        return cls(bind_rate * binds, bind_burst * binds if bind_rate else 0.0, window * binds)


@dataclass(frozen=True, slots=True)
class LinesConfig:
    pools: Mapping[str, PoolConfig]
    caps: Mapping[str, GatewayCaps]

    @classmethod
    def empty(cls) -> LinesConfig:
        return cls({}, {})

    def pools_of(self, gateway: str) -> list[PoolConfig]:
        return [pool for pool in self.pools.values() if pool.gateway == gateway]

    def caps_of(self, gateway: str) -> GatewayCaps:
        return self.caps.get(gateway, GatewayCaps())

    def check_gateways(self, known: Collection[str]) -> None:
        """Refuse a pool or cap naming a gateway that is not configured."""
        for pool in self.pools.values():
            if pool.gateway not in known:
                raise ConfigError(f"pools.{pool.name}.gateway: unknown gateway "
                                  f"{pool.gateway!r}{_suggest(pool.gateway, known)}")
        for name in self.caps:
            if name not in known:
                raise ConfigError(f"gateway_caps.{name}: unknown gateway{_suggest(name, known)}")


def parse_lines_config(raw: Mapping[str, Any]) -> LinesConfig:
    """Pools from ``raw["pools"]`` and caps from ``raw["gateway_caps"]``; other keys of
    `raw` (the rest of the config file) are not looked at."""
    pools = {name: _pool(name, table) for name, table in _table(raw, "pools", "").items()}
    _check_unique(pools)
    caps = {name: _caps(f"gateway_caps.{name}", table)
            for name, table in _table(raw, "gateway_caps", "").items()}
    return LinesConfig(pools, caps)


def _pool(name: str, raw: Any) -> PoolConfig:
    where = f"pools.{name}"
    raw = _table({name: raw}, name, "pools")
    _known_keys(where, raw, POOL_KEYS)
    gateway = raw.get("gateway")
    if not isinstance(gateway, str) or not gateway:
        raise ConfigError(f"{where}.gateway: expected a gateway name{_got(gateway)}")
    defaults = _limits(where, raw, None)
    declarations = raw.get("lines")
    if not isinstance(declarations, list) or not declarations:
        raise ConfigError(f"{where}.lines: expected a non-empty array of line declarations"
                          f"{_got(declarations)}")
    blocks = tuple(_block(f"{where}.lines[{i}]", item, defaults)
                   for i, item in enumerate(declarations))
    return PoolConfig(name, gateway, blocks)


def _block(where: str, raw: Any, defaults: LineLimits | None) -> LineBlock:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table like {{ range = \"...\" }}{_got(raw)}")
    _known_keys(where, raw, LIMIT_KEYS | set(KINDS))
    kinds = [kind for kind in KINDS if kind in raw]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: needs exactly one of range, numbers or pattern")
    limits = _limits(where, raw, defaults)
    if limits is None:
        raise ConfigError(f"{where}: no rate: set rate on the pool or on this declaration")
    kind = kinds[0]
    parse = {"range": _range, "numbers": _numbers, "pattern": _pattern}[kind]
    block = parse(where, raw[kind], limits)
    _check_size(where, block)
    return block


def _limits(where: str, raw: Mapping[str, Any], defaults: LineLimits | None
            ) -> LineLimits | None:
    """`defaults` with what `raw` sets on top; None when no rate is set anywhere."""
    base = defaults or LineLimits(0.0)
    rate = _setting(where, raw, "rate", _number, lambda v: v > 0,
                    "must be more than 0 messages per second")
    burst = _setting(where, raw, "burst", _number, lambda v: v == 0 or v >= 1,
                     "must be at least 1 (or 0: one second of rate)")
    concurrency = _setting(where, raw, "concurrency", _integer, lambda v: v >= 1,
                           "must be at least 1")
    rate = base.rate if rate is None else rate
    if not rate:
        return None
    return LineLimits(rate, base.burst if burst is None else burst,
                      base.concurrency if concurrency is None else int(concurrency))


def _setting(where: str, raw: Mapping[str, Any], key: str, parse: Callable[[str, Any], float],
             valid: Callable[[float], bool], rule: str) -> float | None:
    if key not in raw:
        return None
    value = parse(f"{where}.{key}", raw[key])
    if not valid(value):
        raise ConfigError(f"{where}.{key}: {rule}, got {value}")
    return value


def _range(where: str, raw: Any, limits: LineLimits) -> LineBlock:
    match = _RANGE.fullmatch(raw.replace(" ", "")) if isinstance(raw, str) else None
    if match is None:
        raise ConfigError(f"{where}.range: expected \"+33700000000-+33700009999\"{_got(raw)}")
    plus, start, end_plus, end = match.groups()
    if plus != end_plus or len(start) != len(end):
        raise ConfigError(f"{where}.range: start and end must be written alike (same digits count, "
                          f"both with + or neither)")
    if int(end) < int(start):
        raise ConfigError(f"{where}: range end before start")
    return LineBlock(limits, prefix=plus, first=int(start), last=int(end), width=len(start))


def _numbers(where: str, raw: Any, limits: LineLimits) -> LineBlock:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}.numbers: expected a non-empty array of strings{_got(raw)}")
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ConfigError(f"{where}.numbers[{i}]: expected a line name without blanks"
                              f"{_got(name)}")
    return LineBlock(limits, names=tuple(raw))


def _pattern(where: str, raw: Any, limits: LineLimits) -> LineBlock:
    match = _PATTERN.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ConfigError(f"{where}.pattern: expected one counter like "
                          f"\"LINE{{0001..0500}}\"{_got(raw)}")
    prefix, start, end, suffix = match.groups()
    if int(end) < int(start):
        raise ConfigError(f"{where}: pattern end before start")
    return LineBlock(limits, prefix=prefix, first=int(start), last=int(end), width=len(start),
                     suffix=suffix)


def _check_size(where: str, block: LineBlock) -> None:
    if len(block) > MAX_LINES:
        raise ConfigError(f"{where}: {len(block):,} lines is more than the {MAX_LINES:,} allowed")
    longest = max(len(block.prefix) + max(block.width, len(str(block.last))) + len(block.suffix),
                  max((len(n) for n in block.names), default=0))
    if longest > MAX_ADDRESS:
        raise ConfigError(f"{where}: line names longer than {MAX_ADDRESS} characters")


def _check_unique(pools: Mapping[str, PoolConfig]) -> None:
    """No line in two declarations; transiently builds a set of every address."""
    total = sum(len(pool) for pool in pools.values())
    if total > MAX_LINES:
        raise ConfigError(f"pools: {total:,} lines in all is more than the {MAX_LINES:,} allowed")
    seen: dict[str, str] = {}
    for pool in pools.values():
        for i, block in enumerate(pool.blocks):
            where = f"pools.{pool.name}.lines[{i}]"
            for address in block.addresses():
                if address in seen:
                    raise ConfigError(f"{where}: line {address} is already declared by "
                                      f"{seen[address]}")
                seen[address] = where


def _caps(where: str, raw: Any) -> GatewayCaps:
    raw = _table({where: raw}, where, "")
    _known_keys(where, raw, CAPS_KEYS)
    bind_rate = _number(f"{where}.bind_rate", raw.get("bind_rate", 0.0))
    burst = _number(f"{where}.burst", raw.get("burst", 0.0))
    binds = _integer(f"{where}.binds", raw.get("binds", 1))
    window = _integer(f"{where}.window", raw.get("window", 0))
    for key, value, low in (("bind_rate", bind_rate, 0), ("burst", burst, 0), ("binds", binds, 1),
                            ("window", window, 0)):
        if value < low:
            raise ConfigError(f"{where}.{key}: must be at least {low}, got {value}")
    return GatewayCaps.per_bind(bind_rate, binds, window, burst)


def _table(raw: Mapping[str, Any], key: str, parent: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        name = f"{parent}.{key}" if parent else key
        raise ConfigError(f"{name}: expected a table{_got(value)}")
    return value


def _known_keys(where: str, raw: Mapping[str, Any], known: Collection[str]) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key{_suggest(key, known)}")


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number{_got(value)}")
    return float(value)


def _integer(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer{_got(value)}")
    return value


def _got(value: Any) -> str:
    if value is None:
        return ""
    shown = "a table" if isinstance(value, dict) else repr(value)
    return f", got {shown[:60]}"


def _suggest(key: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
