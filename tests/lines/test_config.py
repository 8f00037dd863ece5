"""Pools of lines from config: compact declarations, overrides, and errors naming the key."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from dispatch.lines.config import GatewayCaps, LineLimits, parse_lines_config
from dispatch.settings import ConfigError

EXAMPLE = """
[pools.paris]
gateway = "orange"
rate = 0.2
burst = 1
concurrency = 1
lines = [
    { range = "+33700000000-+33700009999" },
    { numbers = ["36111", "36112"], rate = 5, burst = 10 },
    { pattern = "TRUNK{001..120}", concurrency = 30 },
]

[pools.calls]
gateway = "sip"
rate = 0.5
lines = [{ pattern = "LINE{1..3}-A" }]

[gateway_caps.orange]
bind_rate = 500
binds = 4
window = 100
"""


def pools(raw_pools: dict[str, Any]) -> Any:
    return parse_lines_config({"pools": raw_pools})


def one_pool(**pool: Any) -> dict[str, Any]:
    return {"p": {"gateway": "g", "rate": 1.0, **pool}}


def test_the_documented_example() -> None:
    config = parse_lines_config(tomllib.loads(EXAMPLE))
    paris = config.pools["paris"]
    assert paris.gateway == "orange"
    assert len(paris) == 10_000 + 2 + 120
    lines = dict(paris.lines())
    assert lines["+33700000000"] == LineLimits(0.2, 1.0, 1)
    assert lines["+33700009999"] == LineLimits(0.2, 1.0, 1)
    assert lines["36112"] == LineLimits(5.0, 10.0, 1)
    assert lines["TRUNK001"] == lines["TRUNK120"] == LineLimits(0.2, 1.0, 30)
    assert paris.capacity == pytest.approx(10_000 * 0.2 + 2 * 5 + 120 * 0.2)
    assert [address for address, _ in config.pools["calls"].lines()] == [
        "LINE1-A", "LINE2-A", "LINE3-A"]
    assert config.caps_of("orange") == GatewayCaps(rate=2000.0, burst=2000.0, window=400)
    assert config.caps_of("sip") == GatewayCaps()
    assert [pool.name for pool in config.pools_of("orange")] == ["paris"]


def test_ten_thousand_numbers_are_one_block_not_ten_thousand_strings() -> None:
    config = pools(one_pool(lines=[{"range": "+33700000000-+33700009999"}]))
    block = config.pools["p"].blocks[0]
    assert (block.prefix, block.first, block.last, block.width) == ("+", 33700000000,
                                                                     33700009999, 11)
    assert block.names == ()
    assert len(block) == 10_000


def test_leading_zeros_are_kept() -> None:
    config = pools(one_pool(lines=[{"range": "0600000098-0600000101"},
                                   {"pattern": "CH{0008..0010}"}]))
    assert [a for a, _ in config.pools["p"].lines()] == [
        "0600000098", "0600000099", "0600000100", "0600000101", "CH0008", "CH0009", "CH0010"]


def test_defaults_burst_zero_and_concurrency_one() -> None:
    config = pools(one_pool(lines=[{"numbers": ["A"]}]))
    assert config.pools["p"].blocks[0].limits == LineLimits(1.0, 0.0, 1)


def test_a_rate_on_the_line_is_enough() -> None:
    config = pools({"p": {"gateway": "g", "lines": [{"numbers": ["A"], "rate": 0.5}]}})
    assert config.pools["p"].blocks[0].limits.rate == 0.5


def test_no_pools_is_an_empty_config() -> None:
    config = parse_lines_config({"daemon": {"batch_size": 10}})
    assert dict(config.pools) == {} and dict(config.caps) == {}


@pytest.mark.parametrize(("pool", "message"), [
    ({"lines": [{"range": "+33700000009-+33700000000"}]},
     "pools.p.lines[0]: range end before start"),
    ({"lines": [{"numbers": ["A"]}, {"range": "+3370000000-+33700009999"}]},
     "pools.p.lines[1].range: start and end must be written alike"),
    ({"lines": [{"range": "+33700000000-33700000009"}]},
     "pools.p.lines[0].range: start and end must be written alike"),
    ({"lines": [{"range": "33 7000 A"}]},
     "pools.p.lines[0].range: expected \"+33700000000-+33700009999\", got '33 7000 A'"),
    ({"lines": [{"range": 12}]}, "pools.p.lines[0].range: expected"),
    ({"lines": [{"pattern": "LINE{0500..0001}"}]}, "pools.p.lines[0]: pattern end before start"),
    ({"lines": [{"pattern": "LINE{1..2}{3..4}"}]},
     "pools.p.lines[0].pattern: expected one counter"),
    ({"lines": [{"pattern": "LINE"}]}, "pools.p.lines[0].pattern: expected one counter"),
    ({"lines": [{"numbers": []}]}, "pools.p.lines[0].numbers: expected a non-empty array"),
    ({"lines": [{"numbers": ["A", " B"]}]},
     "pools.p.lines[0].numbers[1]: expected a line name without blanks"),
    ({"lines": [{"numbers": ["A", 3]}]}, "pools.p.lines[0].numbers[1]: expected a line name"),
    ({"lines": [{"numbers": ["A", "A"]}]}, "pools.p.lines[0]: line A is already declared by "
                                           "pools.p.lines[0]"),
    ({"lines": [{"numbers": ["A"], "range": "1-2"}]},
     "pools.p.lines[0]: needs exactly one of range, numbers or pattern"),
    ({"lines": [{"rate": 2}]}, "pools.p.lines[0]: needs exactly one of range, numbers or pattern"),
    ({"lines": [{"numbers": ["A"], "rat": 2}]},
     "pools.p.lines[0].rat: unknown key (did you mean rate?)"),
    ({"lines": ["A"]}, "pools.p.lines[0]: expected a table like { range = \"...\" }, got 'A'"),
    ({"lines": []}, "pools.p.lines: expected a non-empty array of line declarations"),
    ({"lines": {"range": "1-2"}}, "pools.p.lines: expected a non-empty array"),
    ({"rate": 0, "lines": [{"numbers": ["A"]}]},
     "pools.p.rate: must be more than 0 messages per second, got 0.0"),
    ({"rate": "fast", "lines": [{"numbers": ["A"]}]},
     "pools.p.rate: expected a number, got 'fast'"),
    ({"rate": True, "lines": [{"numbers": ["A"]}]}, "pools.p.rate: expected a number, got True"),
    ({"lines": [{"numbers": ["A"], "burst": 0.5}]},
     "pools.p.lines[0].burst: must be at least 1 (or 0: one second of rate), got 0.5"),
    ({"lines": [{"numbers": ["A"], "concurrency": 0}]},
     "pools.p.lines[0].concurrency: must be at least 1, got 0"),
    ({"lines": [{"numbers": ["A"], "concurrency": 1.5}]},
     "pools.p.lines[0].concurrency: expected an integer, got 1.5"),
    ({"lines": [{"numbers": ["A" * 21]}]},
     "pools.p.lines[0]: line names longer than 20 characters"),
    ({"lines": [{"range": "+1-+99999999999"}]}, "pools.p.lines[0].range: start and end"),
    ({"lines": [{"range": "+10000000000-+19999999999"}]},
     "pools.p.lines[0]: 10,000,000,000 lines is more than the 1,000,000 allowed"),
    ({"lines": [{"numbers": ["A"]}], "gatway": "x"},
     "pools.p.gatway: unknown key (did you mean gateway?)"),
])
def test_errors_name_the_key(pool: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        pools({"p": {"gateway": "g", "rate": 1.0, **pool}})
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("raw", "message"), [
    ({"pools": []}, "pools: expected a table"),
    ({"pools": {"p": 3}}, "pools.p: expected a table"),
    ({"pools": {"p": {"rate": 1, "lines": [{"numbers": ["A"]}]}}},
     "pools.p.gateway: expected a gateway name"),
    ({"pools": {"p": {"gateway": "g", "lines": [{"numbers": ["A"]}]}}},
     "pools.p.lines[0]: no rate: set rate on the pool or on this declaration"),
    ({"pools": {"a": {"gateway": "g", "rate": 1, "lines": [{"range": "100-199"}]},
                "b": {"gateway": "g", "rate": 1, "lines": [{"numbers": ["x", "150"]}]}}},
     "pools.b.lines[0]: line 150 is already declared by pools.a.lines[0]"),
    ({"gateway_caps": {"g": {"bind_rate": -1}}}, "gateway_caps.g.bind_rate: must be at least 0"),
    ({"gateway_caps": {"g": {"binds": 0}}}, "gateway_caps.g.binds: must be at least 1, got 0"),
    ({"gateway_caps": {"g": {"window": "x"}}}, "gateway_caps.g.window: expected an integer"),
    ({"gateway_caps": {"g": {"rate": 3}}}, "gateway_caps.g.rate: unknown key"),
    ({"gateway_caps": {"g": 3}}, "gateway_caps.g: expected a table"),
])
def test_errors_elsewhere_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_lines_config(raw)
    assert str(caught.value).startswith(message)


def test_pools_together_are_bounded() -> None:
    half = {"gateway": "g", "rate": 1, "lines": [{"range": "1000000-1600000"}]}
    other = {"gateway": "g", "rate": 1, "lines": [{"range": "2000000-2600000"}]}
    with pytest.raises(ConfigError, match=r"^pools: 1,200,002 lines in all is more than"):
        parse_lines_config({"pools": {"a": half, "b": other}})


def test_gateways_must_be_configured() -> None:
    config = parse_lines_config(tomllib.loads(EXAMPLE))
    config.check_gateways({"orange", "sip"})
    with pytest.raises(ConfigError, match=r"^pools.calls.gateway: unknown gateway 'sip'"):
        config.check_gateways({"orange", "default"})
    caps_only = parse_lines_config({"gateway_caps": {"orange": {"window": 3}}})
    with pytest.raises(ConfigError, match=r"^gateway_caps.orange: unknown gateway"):
        caps_only.check_gateways({"sip"})


def test_caps_per_bind() -> None:
    assert GatewayCaps.per_bind(10.0, 3, 5) == GatewayCaps(30.0, 30.0, 15)
    assert GatewayCaps.per_bind(0.5, 2, 0) == GatewayCaps(1.0, 2.0, 0)  # burst >= 1 a bind
    assert GatewayCaps.per_bind(10.0, 2, 5, burst=4.0) == GatewayCaps(20.0, 8.0, 10)
    assert GatewayCaps.per_bind(0.0, 2, 5) == GatewayCaps(0.0, 0.0, 10)
