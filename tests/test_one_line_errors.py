"""Issue 15, item 7: Redis not there, a port taken, a bad Redis URL: every command says what
and where in one line (ports named, never a password) and exits with its ExitCode; a read
command never starts a new, empty embedded Redis; the daemon is not ready (no ready line,
no READY=1, no /healthz) before Redis answers.

Real sockets throughout: a closed port is one bound and closed, a busy port one kept bound,
the Redis servers real redis-server processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from dispatch.cli import main
from dispatch.commands.common import ExitCode, exit_code_for
from dispatch.processes import ProcessFailed, dispatch_command, start_child
from dispatch.store.server import find_redis_server, holds_data, stop_embedded
from tests.inbound import CALLBACK_SECRET
from tests.texts import SENDER, SIGNED

TIMEOUT_S = 60  # a bound on each command, not a measure of it
PASSWORD = f"pw{uuid.uuid4().hex}"  # must never be shown
NUMBER = "0611111111"

# Commands that only read: they never start the embedded Redis.
READS = [("status",), ("optout", "check", NUMBER), ("optout", "export"),
         ("campaign", "list"), ("provenance", NUMBER), ("purge", "--status")]
# Commands that change something: enqueue and optout add start the embedded Redis when
# need be; campaign and purge act on a campaign that must exist, so they start none.
WRITES = [("enqueue", "{file}", "--campaign", "c1", "--text", SIGNED, "--sender", SENDER,
           "--no-consent-required", "--window", "always"),
          ("optout", "add", NUMBER), ("campaign", "pause", "c1"),
          ("purge", "--campaign", "c1")]


async def dispatch(*argv: str) -> int:
    """`dispatch ARGV` through dispatch.cli.main (in a thread: it runs trio itself)."""
    with trio.fail_after(TIMEOUT_S):
        code: int = await trio.to_thread.run_sync(main, list(argv), abandon_on_cancel=True)
        return code


def with_file(argv: tuple[str, ...], tmp_path: Path) -> list[str]:
    (tmp_path / "list.csv").write_text(f"phone\n{NUMBER}\n")
    return [arg.replace("{file}", str(tmp_path / "list.csv")) for arg in argv]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config, no Redis URL: the embedded Redis of a state directory of this test's."""
    for name in ("DISPATCH_CONFIG", "DISPATCH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "state"
    monkeypatch.setenv("DISPATCH_STATE_DIR", str(state))
    return state


def config_with(tmp_path: Path, url: str, daemon: str = "") -> Path:
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{url}"\nkey_prefix = "t{uuid.uuid4().hex[:10]}"\n'
                    f"[daemon]\n{daemon}\n[gateways.default]\n"
                    f'inbound_secret = "{CALLBACK_SECRET}"\n')
    return path


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port in use (bound and listening) for the test."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv", READS, ids=" ".join)
async def test_a_read_with_no_redis_running_says_so_and_starts_none(
        argv: tuple[str, ...], state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await dispatch(*argv) == ExitCode.REDIS
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err) == (
        f"dispatch {argv[0]}: no Redis running and no data here; this command starts none "
        f"(embedded Redis, state dir {state_dir}: set DISPATCH_STATE_DIR or redis.url to "
        "where the data is)")
    assert not await trio.Path(state_dir / "redis.sock").exists()
    assert not holds_data(state_dir)


async def test_a_read_starts_the_embedded_redis_again_when_it_left_data(
        state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After a reboot the embedded Redis is not running but its data is there: a read
    loads it (the campaign enqueued before), never zeros from a new one."""
    try:
        assert await dispatch(*with_file(WRITES[0], tmp_path)) == ExitCode.OK
        with trio.fail_after(TIMEOUT_S):
            assert await stop_embedded(state_dir)
        capsys.readouterr()
        assert await dispatch("status", "--json") == ExitCode.OK
        assert json.loads(capsys.readouterr().out)["campaigns"]["c1"]["queued"] == 1
    finally:
        with trio.fail_after(TIMEOUT_S):
            await stop_embedded(state_dir)


@pytest.mark.parametrize("argv", READS + WRITES, ids=" ".join)
async def test_redis_on_a_closed_port_is_one_line_with_the_port_and_no_password(
        argv: tuple[str, ...], tmp_path: Path, state_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    config = config_with(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{port}")
    assert await dispatch(*with_file(argv, tmp_path), "--config", str(config)) == \
        ExitCode.REDIS
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err) == \
        f"dispatch {argv[0]}: cannot reach Redis: connection refused (127.0.0.1:{port})"
    assert PASSWORD not in err
    assert not await trio.Path(state_dir).exists()  # a URL: no embedded Redis


@pytest.mark.parametrize(("url", "said"), [
    (f"redis://:{PASSWORD}@host:notaport",
     "the port must be a number from 1 to 65535, got 'notaport'"),
    (f"redis://:{PASSWORD}@host:6379/zero", "the database must be a number, got 'zero'"),
    (f"http://user:{PASSWORD}@host", "must start with redis://, rediss://, unix://, "
                                     "redis+sentinel:// or redis+cluster://, got http://"),
    (f"redis+cluster://:{PASSWORD}@host:7000,host:x",
     "a node's port must be a number from 1 to 65535, got 'x'"),
    (f"redis+cluster://:{PASSWORD}@host:7000/2",
     "a cluster has no database number: redis+cluster://HOST:PORT,..."),
])
@pytest.mark.parametrize("source", ["config", "environment"])
async def test_a_malformed_redis_url_is_a_usage_error_naming_its_key_not_its_password(
        url: str, said: str, source: str, tmp_path: Path, state_dir: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    if source == "config":
        argv, key = ["--config", str(config_with(tmp_path, url))], "redis.url"
    else:
        monkeypatch.setenv("DISPATCH_REDIS_URL", url)
        argv, key = [], "DISPATCH_REDIS_URL"
    assert await dispatch("status", *argv) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert one_line(err) == f"dispatch status: {key}: {said}"
    assert PASSWORD not in out + err


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server of this test's that wants a password (PASSWORD): its TCP port."""
    port = closed_port()
    process = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", PASSWORD, "--dir", str(tmp_path),
         "--logfile", str(tmp_path / "locked.log")])
    try:
        for _ in range(200):  # bounded: 10 s
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "redis-server exited"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(("login", "said"), [
    ("wrong:wrong@", "Redis refused the login: invalid username-password pair or user is "
                     "disabled"),
    ("", "Redis requires a password and the URL gives none"),
])
async def test_a_refused_login_is_one_line(
        login: str, said: str, locked_redis: int, tmp_path: Path, state_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, f"redis://{login}127.0.0.1:{locked_redis}")
    assert await dispatch("campaign", "list", "--config", str(config)) == ExitCode.REDIS
    assert one_line(capsys.readouterr().err) == \
        f"dispatch campaign: {said} (127.0.0.1:{locked_redis})"


async def test_the_right_password_passes(
        locked_redis: int, tmp_path: Path, state_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = config_with(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{locked_redis}")
    assert await dispatch("status", "--json", "--config", str(config)) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["campaigns"] == {}


async def run_command(*argv: str, env: dict[str, str] | None = None
                      ) -> subprocess.CompletedProcess[bytes]:
    """`dispatch ARGV` as a process of its own (the daemon and the simulator handle
    signals and tune the garbage collector: not in the test's process)."""
    with trio.fail_after(TIMEOUT_S):
        return await trio.run_process(dispatch_command(*argv), capture_stdout=True,
                                      capture_stderr=True, check=False, env=env)


@pytest.mark.parametrize(("key", "what"), [("inbound_port", "receipts and replies"),
                                           ("metrics_port", "metrics")])
async def test_the_daemon_on_a_busy_port_is_one_line_naming_it(
        key: str, what: str, busy_port: int, redis_url: str, tmp_path: Path) -> None:
    ports = {"inbound_port": 0, "metrics_port": 0, key: busy_port}
    config = config_with(tmp_path, redis_url,
                         "".join(f"{name} = {port}\n" for name, port in ports.items()))
    result = await run_command("run", "--config", str(config))
    assert result.returncode == ExitCode.PORT
    assert result.stdout == b""  # no ready line
    assert one_line(result.stderr.decode()) == (
        f"dispatch run: cannot listen for {what}: the port is already in use "
        f"(127.0.0.1:{busy_port}, daemon.{key})")


async def test_a_worker_on_a_busy_port_stops_the_supervisor_with_its_code(
        busy_port: int, redis_url: str, tmp_path: Path) -> None:
    config = config_with(tmp_path, redis_url,
                         f"inbound_port = {busy_port}\nmetrics_port = 0\n")
    result = await run_command("run", "--config", str(config), "--processes", "2")
    assert result.returncode == ExitCode.PORT
    assert result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        f"dispatch run: cannot listen for receipts and replies: the port is already in use "
        f"(127.0.0.1:{busy_port}, daemon.inbound_port)",
        "dispatch run: worker 1 exited with 4 before it was ready"]


@pytest.mark.parametrize(("flag", "what"), [("--http-port", "HTTP"), ("--smpp-port", "SMPP")])
async def test_the_simulator_on_a_busy_port_names_the_port_and_its_flag(
        flag: str, what: str, busy_port: int) -> None:
    ports = {"--http-port": "0", "--smpp-port": "0", flag: str(busy_port)}
    result = await run_command("simulator", *(item for pair in ports.items() for item in pair))
    assert result.returncode == ExitCode.PORT
    assert one_line(result.stderr.decode()) == (
        f"dispatch simulator: cannot listen for {what}: the port is already in use "
        f"(127.0.0.1:{busy_port}, {flag})")


async def test_a_child_that_cannot_start_passes_its_line_and_code_on(
        busy_port: int, tmp_path: Path) -> None:
    """What the demo (and the benchmarks) see when the simulator or daemon they start
    fails: the child's own line and exit code, not a timeout."""
    with trio.fail_after(TIMEOUT_S), pytest.raises(ProcessFailed) as failed:
        await start_child("simulator", dispatch_command(
            "simulator", "--http-port", str(busy_port)), tmp_path / "simulator.log")
    assert failed.value.code == ExitCode.PORT
    assert exit_code_for(failed.value) == ExitCode.PORT
    assert str(failed.value) == (
        "simulator did not start: it exited with 4: dispatch simulator: cannot listen for "
        f"HTTP: the port is already in use (127.0.0.1:{busy_port}, --http-port) "
        f"(see {tmp_path / 'simulator.log'})")


async def test_the_daemon_with_a_refused_login_exits_at_once(
        locked_redis: int, tmp_path: Path) -> None:
    """Waiting does not fix a wrong password: one line, exit 3, not a wait forever."""
    config = config_with(tmp_path, f"redis://:not-{PASSWORD}@127.0.0.1:{locked_redis}",
                         "inbound_port = 0\nmetrics_port = 0\n")
    result = await run_command("run", "--config", str(config))
    assert result.returncode == ExitCode.REDIS
    assert result.stdout == b""
    err = result.stderr.decode()
    assert one_line(err) == (
        "dispatch run: Redis refused the login: invalid username-password pair or user is "
        f"disabled (127.0.0.1:{locked_redis})")
    assert PASSWORD not in err


async def test_the_daemon_is_not_ready_before_redis_answers(tmp_path: Path) -> None:
    """Started against a Redis that is not up yet, the daemon says why it waits (log and
    systemd STATUS), has no port open and no ready line, and sends no READY=1; once a
    redis-server starts there, it becomes ready: ready line, READY=1, /healthz."""
    redis_socket = tmp_path / "late.sock"
    inbound = closed_port()
    config = config_with(tmp_path, f"unix://{redis_socket}",
                         f"inbound_port = {inbound}\nmetrics_port = 0\n")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    env.pop("DISPATCH_REDIS_URL", None)
    waits = (f"waiting for Redis before saying ready: no such socket "
             f"(unix socket {redis_socket})")
    redis: trio.Process | None = None
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify, \
            trio.fail_after(TIMEOUT_S):
        notify.bind(env["NOTIFY_SOCKET"])
        notify.setblocking(False)
        daemon = await trio.lowlevel.open_process(
            dispatch_command("run", "--config", str(config)), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env)
        try:
            assert daemon.stderr is not None and daemon.stdout is not None
            assert (await line_with(daemon.stderr, b"waiting")).endswith(waits.encode())
            said = notices(notify)  # STATUS is sent before the line is logged
            assert f"STATUS={waits}" in said
            assert "READY=1" not in said
            with pytest.raises(OSError):  # no /healthz: its port is not open
                await trio.open_tcp_stream("127.0.0.1", inbound)
            redis = await trio.lowlevel.open_process(
                [find_redis_server(), "--port", "0", "--unixsocket", str(redis_socket),
                 "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
                 "--logfile", str(tmp_path / "late.log")])
            ready = json.loads(await line_with(daemon.stdout, b"inbound_port"))
            assert ready["inbound_port"] == inbound
            while "READY=1" not in said:
                await trio.lowlevel.wait_readable(notify)
                said += notices(notify)
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"http://127.0.0.1:{inbound}/healthz")
            # It answers: ok or not is the gateway's state (tests/e2e/test_lifecycle.py).
            assert reply.json() == {"ok": reply.status_code == 200}
        finally:
            with trio.CancelScope(shield=True):
                if daemon.returncode is None:
                    daemon.terminate()
                assert await daemon.wait() == 0
                if redis is not None:
                    redis.terminate()
                    await redis.wait()


async def line_with(stream: trio.abc.ReceiveStream, needle: bytes) -> bytes:
    """The first line of `stream` holding `needle` (read byte by byte: nothing after it
    is consumed)."""
    line = bytearray()
    while True:
        chunk = await stream.receive_some(1)
        assert chunk, f"the stream ended before a line with {needle!r}"
        if chunk == b"\n":
            if needle in line:
                return bytes(line)
            line.clear()
        else:
            line += chunk


def notices(notify: socket.socket) -> str:
    """The sd_notify datagrams received so far, without waiting."""
    said = []
    while True:
        try:
            said.append(notify.recv(4096).decode())
        except BlockingIOError:
            return "\n".join(said)


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0, "FAILED": 1, "USAGE": 2, "REDIS": 3, "PORT": 4, "INTERRUPTED": 130}
    with pytest.raises(SystemExit) as usage:  # argparse's usage errors: 2 as well
        main(["status", "--no-such-option"])
    assert usage.value.code == ExitCode.USAGE


def test_under_journald_the_one_line_carries_the_error_priority(tmp_path: Path) -> None:
    """A unit refused at start (a bad setting, exit 2): journald files the line as an error
    (`journalctl -p err` shows it) because it starts with <3>, which journald strips."""
    config = tmp_path / "bad.toml"
    config.write_text("[daemon]\nbatch_sise = 5\n")
    err = tmp_path / "stderr.txt"
    with err.open("wb") as stream:
        info = os.fstat(stream.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        result = subprocess.run(dispatch_command("run", "--config", str(config)),
                                stderr=stream, stdout=subprocess.DEVNULL, env=env,
                                timeout=TIMEOUT_S, check=False)
    assert result.returncode == ExitCode.USAGE
    line = one_line(err.read_text())
    assert line.startswith("<3>dispatch run: "), line
    assert "batch_sise" in line
