"""`dispatch simulator` as a real process: the port line, /stats, SIGTERM -> exit 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import httpx
import pytest
import trio

from dispatch.commands.common import UserError
from dispatch.commands.simulator import config_from

COMMAND = [sys.executable, "-m", "dispatch", "simulator", "--http-port", "0",
           "--seed", "1", "--receipt-delay-ms", "10", "--outcomes", "delivered=1"]


async def read_line(stream: trio.abc.ReceiveStream) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = await stream.receive_some(4096)
        assert chunk, f"simulator closed stdout early: {data!r}"
        data += chunk
    return data


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_command_prints_its_port_serves_and_exits_0_on_a_signal(signum: int) -> None:
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(COMMAND, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            line = await read_line(process.stdout)
            port = json.loads(line)["http_port"]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                sms = {"reference": "r1", "to": "+33612345678", "from": "X", "text": "hi",
                       "callback_url": None}
                assert (await client.post("/sms", json=sms)).status_code == 200
                stats = (await client.get("/stats")).json()
            assert stats["accepted"] == 1 and stats["outcomes"]["delivered"] == 1
            process.send_signal(signum)
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def test_bad_flag_values_are_one_line_errors() -> None:
    result = subprocess.run([*COMMAND, "--error-429", "2"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dispatch simulator: --error-429: must be a probability in 0..1, got 2.0"]


def test_flags_become_a_config() -> None:
    from dispatch.cli import build_parser

    args = build_parser().parse_args(["simulator", "--http-port", "0", "--error-5xx", "0.5",
                                      "--outcomes", "delivered=1,expired=1", "--seed", "9"])
    config = config_from(args)
    assert (config.http_port, config.error_5xx, config.seed) == (0, 0.5, 9)
    assert config.outcomes == {"delivered": 0.5, "expired": 0.5}


@pytest.mark.parametrize(("flags", "reason"), [
    (["--receipt-batch", "x"], "--receipt-batch: expected an integer"),
    (["--latency-ms", "fast"], "--latency-ms: expected a number"),
    (["--seed", "1.5"], "--seed: expected an integer"),
    (["--outcomes", "sent=1"], "unknown outcome 'sent'"),
    (["--receipt-delay-ms", "-5"], "--receipt-delay-ms: must be a finite number >= 0"),
])
def test_bad_flags_raise_user_error(flags: list[str], reason: str) -> None:
    from dispatch.cli import build_parser

    with pytest.raises(UserError, match=reason):
        config_from(build_parser().parse_args(["simulator", *flags]))


def test_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "dispatch", "simulator", "--http-port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 4  # ExitCode.PORT
    assert result.stderr.strip().splitlines() == [
        f"dispatch simulator: cannot listen for HTTP: the port is already in use "
        f"(127.0.0.1:{port}, --http-port)"]
