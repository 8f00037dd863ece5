"""`dispatch simulator --smpp-port 0` as a real process, and the SMSC flags."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import trio

from dispatch.cli import build_parser
from dispatch.commands.common import UserError
from dispatch.commands.simulator import config_from
from dispatch.simulator import SimulatorConfig
from dispatch.smpp import SubmitSmResp

from ..test_command import read_line
from .smpp_peer import bound, submit

COMMAND = [sys.executable, "-m", "dispatch", "simulator", "--http-port", "0",
           "--smpp-port", "0", "--seed", "1", "--account", "acme:secret"]


async def test_command_prints_the_smpp_port_and_serves_smpp() -> None:
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(COMMAND, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            ready = json.loads(await read_line(process.stdout))
            assert isinstance(ready["http_port"], int) and isinstance(ready["smpp_port"], int)
            async with bound(ready["smpp_port"]) as esme:
                await esme.send(submit(reference="r1"))
                assert (await esme.expect(SubmitSmResp)).command_status == 0
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_without_smpp_port_the_ready_line_says_null() -> None:
    command = [sys.executable, "-m", "dispatch", "simulator", "--http-port", "0"]
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            ready = json.loads(await read_line(process.stdout))
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert ready["smpp_port"] is None


def parse(*flags: str) -> SimulatorConfig:
    return config_from(build_parser().parse_args(["simulator", *flags]))


def test_smpp_flags_become_a_config() -> None:
    config = parse("--smpp-port", "2775", "--account", "a:pw", "--account", "b:", "--line-rate",
                   "5", "--throttle-rate", "0.3", "--smpp-error-status", "0x45",
                   "--receipt-format", "hex-ids", "--disconnect-after", "100")
    assert config.smpp_port == 2775
    assert config.accounts == {"a": "pw", "b": ""}
    assert (config.line_rate, config.throttle_rate) == (5.0, 0.3)
    assert config.smpp_error_status == 0x45
    assert config.receipt_format == "hex-ids"
    assert parse().smpp_port is None


def test_a_profile_sets_defaults_that_flags_override() -> None:
    flaky = parse("--profile", "flaky")
    assert flaky.throttle_rate == 0.3 and flaky.no_response == 0.01
    overridden = parse("--profile", "flaky", "--throttle-rate", "0")
    assert overridden.throttle_rate == 0.0
    assert overridden.no_response == 0.01
    perfect = parse("--profile", "perfect")
    assert perfect.outcomes == {"delivered": 1.0}


@pytest.mark.parametrize(("flags", "reason"), [
    (["--profile", "chaotic"], "--profile: unknown profile 'chaotic'"),
    (["--account", "nopassword"], "--account: expected SYSTEM_ID:PASSWORD"),
    (["--account", "a:1", "--account", "a:2"], "--account: 'a' given twice"),
    (["--account", "a:waytoolongpassword"], "--account: 'a': system_id must be"),
    (["--smpp-port", "70000"], "--smpp-port: must be 0..65535"),
    (["--smpp-window", "0"], "--smpp-window: must be at least 1"),
    (["--throttle-rate", "1.5"], "--throttle-rate: must be a probability"),
    (["--smpp-error-status", "sys"], "--smpp-error-status: expected an integer"),
    (["--receipt-format", "fancy"], "--receipt-format: unknown format 'fancy'"),
    (["--line-rate", "-1"], "--line-rate: must be a finite number >= 0"),
])
def test_bad_smpp_flags_raise_user_error(flags: list[str], reason: str) -> None:
    with pytest.raises(UserError, match=reason):
        parse(*flags)
