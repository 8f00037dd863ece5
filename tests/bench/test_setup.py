"""Options, the configs and flags the benchmark hands to the processes it starts, the PNG."""

from __future__ import annotations

import argparse
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.bench.options import MAX_PARTS, BenchOptions, OptionError, checked
from dispatch.bench.png import Canvas
from dispatch.bench.services import line_address, simulator_flags, write_daemon_config
from dispatch.bench.workload import campaign_text, rendered
from dispatch.commands import bench, simulator
from dispatch.commands.common import UserError
from dispatch.gateways.smpp.submit import part_count
from dispatch.settings import load_settings

PORTS = {"http_port": 8481, "smpp_port": 2776}


def test_defaults_are_filled_per_gateway() -> None:
    assert checked(BenchOptions(gateway="http")).batch_size == 100
    smpp = checked(BenchOptions(gateway="smpp", concurrency=3))
    assert (smpp.batch_size, smpp.concurrency) == (100, 3)
    assert checked(BenchOptions(messages=500)).ceiling_size == 500
    assert checked(BenchOptions(messages=10**6)).ceiling_size == 200_000


def test_a_long_text_on_lines_has_no_ceiling_run() -> None:
    lines = BenchOptions(gateway="smpp", lines=10, line_rate=1.0)
    assert checked(replace(lines, text_parts=2)).ceiling_size == 0
    assert checked(replace(lines, ceiling_messages=100)).ceiling_size == 100
    assert checked(BenchOptions(gateway="smpp", text_parts=3)).ceiling_size == 10_000


@pytest.mark.parametrize("parts", range(1, MAX_PARTS + 1))
def test_the_campaign_text_takes_the_parts_asked_for(parts: int) -> None:
    text = rendered(campaign_text(parts))
    assert part_count(text) == parts
    assert text.endswith("Parti Bench. STOP 36111")  # still signed, opt-out last


@pytest.mark.parametrize(("options", "named"), [
    (BenchOptions(messages=0), "--messages"),
    (BenchOptions(gateway="ftp"), "--gateway"),
    (BenchOptions(lines=10, line_rate=1.0), "--lines"),  # HTTP has no lines
    (BenchOptions(gateway="smpp", lines=10), "--line-rate"),
    (BenchOptions(gateway="smpp", line_rate=1.0), "--lines"),
    (BenchOptions(daemons=0), "--daemons"),
    (BenchOptions(text_parts=0), "--text-parts"),
    (BenchOptions(text_parts=MAX_PARTS + 1), "--text-parts"),
])
def test_bad_options_are_named(options: BenchOptions, named: str) -> None:
    with pytest.raises(OptionError, match=named):
        checked(options)


def test_command_turns_bad_options_into_one_line_errors() -> None:
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--gateway", "smpp", "--lines", "5"])
    with pytest.raises(UserError, match="--line-rate"):
        args.handler(args)


@pytest.mark.parametrize("options", [
    BenchOptions(gateway="http", batch_size=1, concurrency=8),
    BenchOptions(gateway="smpp", binds=3, window=50),
    BenchOptions(gateway="smpp", lines=10_000, line_rate=0.5),
])
def test_daemon_config_is_one_the_daemon_accepts(tmp_path: Path, options: BenchOptions
                                                 ) -> None:
    options = checked(options)
    path = write_daemon_config(tmp_path / "d.toml", "unix:///tmp/r.sock", "bench-1", options,
                               PORTS)
    gateway = load_settings(path).gateways["default"]
    assert gateway.type == options.gateway
    assert gateway.batch_size == options.batch_size
    if options.gateway == "smpp":
        assert (gateway.port, gateway.binds, gateway.window) == (2776, options.binds,
                                                                 options.window)
        assert gateway.sender == (line_address(0) if options.lines else "BENCH")
    else:
        assert gateway.url == "http://127.0.0.1:8481"


def test_simulator_flags_are_ones_the_simulator_accepts() -> None:
    options = checked(BenchOptions(gateway="smpp", lines=100, line_rate=2.0, window=64,
                                   receipt_delay_ms=50))
    parser = argparse.ArgumentParser()
    simulator.add_parser(parser.add_subparsers())
    config = simulator.config_from(parser.parse_args(["simulator",
                                                      *simulator_flags(options)]))
    assert config.line_rate == 2.0
    assert config.smpp_window == 64
    assert config.receipt_delay_ms == 50
    assert config.smpp_port == 0
    assert config.smpp_lean  # the lean SMSC unless asked otherwise


@pytest.mark.parametrize(("argv", "kind"), [
    (["--gateway", "smpp"], "lean"),
    (["--gateway", "smpp", "--full-simulator"], "full"),
    (["--gateway", "smpp", "--faults", "--no-response 0.01"], "full"),  # faults need it
    (["--gateway", "http"], "full"),  # no lean HTTP gateway
])
def test_the_simulator_is_lean_for_smpp_runs_without_faults(argv: list[str], kind: str
                                                            ) -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    bench.add_parser(commands)
    simulator.add_parser(commands)
    options = bench.options_from(parser.parse_args(["bench", *argv]))
    assert options.simulator == kind
    config = simulator.config_from(parser.parse_args(["simulator",
                                                      *simulator_flags(options)]))
    assert config.smpp_lean is (kind == "lean")


def test_canvas_writes_a_valid_png() -> None:
    canvas = Canvas(40, 20)
    canvas.line(0, 19, 39, 0, (255, 0, 0), width=2)
    canvas.text(1, 1, "OK 42", (0, 0, 0), scale=1)
    data = canvas.png()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height = struct.unpack(">II", data[16:24])
    assert (kind, length, width, height) == (b"IHDR", 13, 40, 20)
    idat_length = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41:41 + idat_length])
    assert len(raw) == 20 * (1 + 40 * 3)
    assert b"\xff\x00\x00" in raw  # the red line is there


def test_faults_reach_the_simulator_and_drop_the_default_ceiling() -> None:
    """`--faults '--no-response 0.01'`: the gateway loses 1 % of its answers; the ceiling
    (a fault-free figure, which lost answers would stall) is not run unless asked for."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    bench.add_parser(commands)
    simulator.add_parser(commands)
    args = parser.parse_args(["bench", "--gateway", "smpp", "--faults",
                              "--no-response 0.01 --seed 7"])
    options = bench.options_from(args)
    assert options.faults == ("--no-response", "0.01", "--seed", "7")
    assert options.ceiling_size == 0
    assert checked(replace(options, ceiling_messages=500)).ceiling_size == 500
    config = simulator.config_from(parser.parse_args(["simulator",
                                                      *simulator_flags(options)]))
    assert config.seed == 7  # the run's flags come after the defaults: they win


def test_broken_quoting_in_faults_is_one_line() -> None:
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--faults", '"unclosed'])
    with pytest.raises(UserError, match="--faults: No closing quotation"):
        bench.options_from(args)
