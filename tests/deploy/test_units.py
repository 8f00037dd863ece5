"""deploy/: the systemd units, install.sh, the sysusers.d/tmpfiles.d entries and the Redis
snippet, checked with the real tools (systemd-analyze, systemd-sysusers, systemd-tmpfiles,
shellcheck, redis-server); a missing tool is a failure, not a skip."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import hiredis
import pytest

from dispatch.settings import (
    ENV_CONFIG,
    ENV_CREDENTIALS,
    ENV_REDIS_URL,
    ENV_STATE_DIR,
    check_for_daemon,
    load_settings,
    secret_variable,
)
from dispatch.store.server import find_redis_server
from tests.real_tools import real_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = DEPLOY / "install.sh"
SYSUSERS = DEPLOY / "sysusers.d" / "dispatch.conf"
TMPFILES = DEPLOY / "tmpfiles.d" / "dispatch.conf"
REDIS_SNIPPET = DEPLOY / "redis" / "dispatch.conf"
UNITS = sorted(DEPLOY.glob("*.service"))
MAX_EXPOSURE = 2.5
PACKAGES = "systemd shellcheck"  # what brings the tools these tests run
TOOL_TIMEOUT_S = 120
REDIS_START_S = 10.0


def run(tool: str, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([real_tool(tool, PACKAGES), *map(str, args)], capture_output=True,
                            text=True, timeout=TOOL_TIMEOUT_S, check=False)
    if check:
        assert result.returncode == 0, (f"{tool} {' '.join(map(str, args))} exited "
                                        f"{result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """install.sh into `root`: it runs systemd-sysusers/tmpfiles there, hence their check."""
    real_tool("systemd-sysusers", PACKAGES)
    real_tool("systemd-tmpfiles", PACKAGES)
    return run("bash", INSTALL, "--root", root, *args)


def unit_setting(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines()
            if line.startswith(f"{key}=")]


# --- systemd-analyze verify ----------------------------------------------------------------

def verify_root(tmp_path: Path) -> Path:
    """A tree `systemd-analyze verify --root=` accepts the units in (systemd 252, as root in a
    container, with no systemd running). Given a unit file's path, verify insists that the
    ExecStart binary exists and that every unit named by Requires= can be loaded; with
    --root it looks for both under the root only, so the root holds: systemd's own units
    (sysinit.target, ...: a copy of the host's), a stand-in for Debian's
    redis-server.service (its package is not installed here), the units as install.sh lays
    them out, and an executable at the path of each ExecStart (the virtual environment
    install.sh makes with pip is not made under --root). The units are verified unchanged,
    at the paths they are installed to."""
    root = tmp_path / "root"
    root.mkdir()
    install(root, "--simulator")
    system_units = next(p for p in (Path("/usr/lib/systemd/system"),
                                    Path("/lib/systemd/system")) if p.is_dir())
    vendor = root / "usr/lib/systemd/system"
    shutil.copytree(system_units, vendor, symlinks=True)
    (vendor / "redis-server.service").write_text(
        "[Unit]\nDescription=stand-in for Debian's redis-server\n"
        "[Service]\nType=notify\nExecStart=/bin/true\n")
    for unit in UNITS:
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
        for command in unit_setting(unit, "ExecStart"):
            binary = root / command.lstrip("-@:+!").split()[0].lstrip("/")
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\nexit 0\n")
            binary.chmod(0o755)
    return root


def verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return run("systemd-analyze", "verify", f"--root={root}", unit, check=False)


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """verify exits 0 on an unknown key or a value it cannot parse ("ignoring"): the lines
    say so."""
    return [line for line in (result.stdout + result.stderr).splitlines()
            if "Failed" in line or "Unknown" in line or "ignoring" in line]


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, unit: Path) -> None:
    result = verify(verify_root(tmp_path), unit.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems(result) == []


def test_verify_as_set_up_here_reports_what_is_wrong(tmp_path: Path) -> None:
    """The set-up above is not blind: a misspelt key and a missing binary are reported."""
    root = verify_root(tmp_path)
    installed = root / "etc/systemd/system/dispatch.service"
    installed.write_text(installed.read_text().replace("UMask=", "UMsk=", 1))
    assert any("Unknown key 'UMsk'" in line for line in problems(verify(root, "dispatch.service")))
    (root / "opt/dispatch/venv/bin/dispatch").unlink()
    result = verify(root, "dispatch.service")
    assert result.returncode != 0
    assert "is not executable" in result.stderr


# --- systemd-analyze security --------------------------------------------------------------

def exposure(unit: Path) -> float:
    """The unit's overall exposure level (0 safe .. 10 exposed); --threshold makes the tool
    itself fail above the limit (its scale is tenths)."""
    result = run("systemd-analyze", "security", "--offline=yes",
                 f"--threshold={round(MAX_EXPOSURE * 10)}", unit, check=False)
    output = result.stdout + result.stderr
    found = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", output)
    assert found, output
    assert result.returncode == 0, output
    return float(found.group(1))


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_security_exposure_is_at_most_2_5(unit: Path) -> None:
    assert exposure(unit) <= MAX_EXPOSURE


# --- install.sh ----------------------------------------------------------------------------

def test_install_sh_is_shellcheck_clean() -> None:
    run("shellcheck", "--severity=style", INSTALL)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def group_id(root: Path, name: str) -> int:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"no group {name} in {root}/etc/group")


def group_members(root: Path, name: str) -> list[str]:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields[3].split(",") if fields[3] else []
    raise AssertionError(f"no group {name} in {root}/etc/group")


def passwd_entry(root: Path, name: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


# What lands where, with which mode (owner root for all; the group where it matters).
INSTALLED = {
    "opt/dispatch/README.md": 0o644,
    "opt/dispatch/dispatch.example.toml": 0o644,
    "etc/sysusers.d/dispatch.conf": 0o644,
    "etc/tmpfiles.d/dispatch.conf": 0o644,
    "etc/dispatch": 0o750,
    "etc/dispatch/dispatch.toml": 0o640,
    "etc/dispatch/credentials": 0o700,
    "etc/default/dispatch": 0o600,
    "etc/redis/dispatch.conf": 0o644,
    "etc/systemd/system/dispatch.service": 0o644,
}


@pytest.fixture
def debian_root(tmp_path: Path) -> Path:
    """A root with the one file of Debian's redis-server that install.sh edits."""
    root = tmp_path / "root"
    (root / "etc/redis").mkdir(parents=True)
    (root / "etc/redis/redis.conf").write_text("port 6379\nappendonly no\n")
    return root


def test_install_sh_lays_out_the_files_with_their_modes(debian_root: Path) -> None:
    install(debian_root)
    found = {name: mode(debian_root / name) for name in INSTALLED}
    assert found == INSTALLED
    assert all((debian_root / name).stat().st_uid == 0 for name in INSTALLED)
    dispatch_gid = group_id(debian_root, "dispatch")
    assert (debian_root / "etc/dispatch").stat().st_gid == dispatch_gid
    assert (debian_root / "etc/dispatch/dispatch.toml").stat().st_gid == dispatch_gid
    assert (debian_root / "etc/dispatch/credentials").stat().st_gid == 0
    assert (debian_root / "etc/dispatch/dispatch.toml").read_text() == \
        (DEPLOY / "dispatch.toml").read_text()
    assert not (debian_root / "etc/systemd/system/dispatch-simulator.service").exists()
    assert not list((debian_root / "etc/dispatch/credentials").iterdir())


def test_install_sh_takes_the_root_from_destdir_too(tmp_path: Path) -> None:
    real_tool("systemd-sysusers", PACKAGES)
    real_tool("systemd-tmpfiles", PACKAGES)
    result = subprocess.run(["bash", str(INSTALL)], env={"PATH": os.environ["PATH"],
                                                         "DESTDIR": str(tmp_path)},
                            capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name: mode(tmp_path / name) for name in INSTALLED} == INSTALLED


def test_install_sh_simulator_installs_every_unit_of_deploy(debian_root: Path) -> None:
    install(debian_root, "--simulator")
    installed = sorted(p.name for p in (debian_root / "etc/systemd/system").glob("*.service"))
    assert installed == [unit.name for unit in UNITS]
    for unit in UNITS:
        assert (debian_root / "etc/systemd/system" / unit.name).read_text() == unit.read_text()


def test_install_sh_a_second_run_keeps_the_operators_files(debian_root: Path) -> None:
    install(debian_root)
    config = debian_root / "etc/dispatch/dispatch.toml"
    environment = debian_root / "etc/default/dispatch"
    config.write_text("# the operator's\n")
    environment.write_text("DISPATCH_REDIS_URL=redis://10.0.0.1:6379/0\n")
    passwd = (debian_root / "etc/passwd").read_text()
    second = install(debian_root)
    assert config.read_text() == "# the operator's\n"
    assert environment.read_text() == "DISPATCH_REDIS_URL=redis://10.0.0.1:6379/0\n"
    assert "kept" in second.stdout
    assert (debian_root / "etc/passwd").read_text() == passwd  # same user, same ids
    redis_conf = (debian_root / "etc/redis/redis.conf").read_text().splitlines()
    assert redis_conf.count("include /etc/redis/dispatch.conf") == 1
    assert redis_conf[-1] == "include /etc/redis/dispatch.conf"  # last: its values win


# --- sysusers.d, tmpfiles.d ----------------------------------------------------------------

def test_sysusers_and_tmpfiles_entries_create_the_user_and_directories(tmp_path: Path
                                                                       ) -> None:
    # Absolute paths: with --root, a relative file name is looked up in the root's
    # sysusers.d/tmpfiles.d. sysusers takes a lock in ROOT/etc, which must exist.
    (tmp_path / "etc").mkdir()
    run("systemd-sysusers", f"--root={tmp_path}", SYSUSERS)
    run("systemd-tmpfiles", f"--root={tmp_path}", "--create", TMPFILES)
    _, _, uid, gid, _, home, shell = passwd_entry(tmp_path, "dispatch")
    assert int(uid) < 1000 and int(gid) == group_id(tmp_path, "dispatch")  # a system user
    assert (home, shell) == ("/var/lib/dispatch", "/usr/sbin/nologin")
    assert group_members(tmp_path, "redis") == ["dispatch"]
    etc = tmp_path / "etc/dispatch"
    assert (mode(etc), etc.stat().st_uid, etc.stat().st_gid) == (0o750, 0, int(gid))
    credentials = etc / "credentials"
    assert (mode(credentials), credentials.stat().st_uid, credentials.stat().st_gid) == \
        (0o700, 0, 0)


def test_the_unit_state_directory_is_the_users_home() -> None:
    unit = DEPLOY / "dispatch.service"
    home = SYSUSERS.read_text().split("/var/lib/", 1)[1].split()[0]
    assert unit_setting(unit, "StateDirectory") == [home]
    assert unit_setting(unit, "User") == ["dispatch"]
    assert unit_setting(unit, "SupplementaryGroups") == ["redis"]
    assert re.search(r"^m\s+dispatch\s+redis$", SYSUSERS.read_text(), re.MULTILINE)


# --- configuration and environment ---------------------------------------------------------

def test_the_installed_config_starts_a_service_given_its_credential(tmp_path: Path) -> None:
    """deploy/dispatch.toml names the Redis socket of deploy/redis/dispatch.conf and the
    credential the unit loads; under systemd (INVOCATION_ID, NOTIFY_SOCKET) the daemon's
    checks pass once that credential is there."""
    unit = DEPLOY / "dispatch.service"
    (credential,) = [line.split(":", 1)[0] for line in unit_setting(unit, "LoadCredential")]
    (tmp_path / credential).write_text("secret\n")
    env = {ENV_CREDENTIALS: str(tmp_path), "INVOCATION_ID": "1", "NOTIFY_SOCKET": "/run/x"}
    settings = load_settings(DEPLOY / "dispatch.toml", env)
    check_for_daemon(settings, env)
    gateway, key = credential.removeprefix("gateway.").rsplit(".", 1)
    assert getattr(settings.gateways[gateway], key) == "secret"
    socket_path = redis_directives(REDIS_SNIPPET)["unixsocket"]
    assert settings.redis.url == f"unix://{socket_path}"


def test_the_environment_file_names_only_variables_the_daemon_reads() -> None:
    unit = DEPLOY / "dispatch.service"
    known = {ENV_CONFIG, ENV_REDIS_URL, ENV_STATE_DIR}
    secrets = {secret_variable(gateway, key) for gateway in ("operator",)
               for key in ("password", "auth_token")}
    named = re.findall(r"^#?([A-Z][A-Z0-9_]*)=", (DEPLOY / "default/dispatch").read_text(),
                       re.MULTILINE)
    assert named and set(named) <= known | secrets
    set_by_unit = {value.split("=", 1)[0] for value in unit_setting(unit, "Environment")}
    assert set_by_unit <= known
    assert unit_setting(unit, "EnvironmentFile") == ["-/etc/default/dispatch"]


# --- the Redis snippet ---------------------------------------------------------------------

def redis_directives(path: Path) -> dict[str, str]:
    return dict(line.split(None, 1) for line in path.read_text().splitlines()
                if line.strip() and not line.startswith("#"))


def redis_command(path: Path, *args: str) -> Any:
    request = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    reader = hiredis.Reader(encoding="utf-8")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(request.encode())
        reply: Any = False
        while reply is False:
            data = sock.recv(65536)
            assert data, "Redis closed the connection"
            reader.feed(data)
            reply = reader.gets()
    return reply


def wait_for_socket(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + REDIS_START_S
    while not path.exists():
        assert process.poll() is None, f"redis-server exited {process.returncode}"
        assert time.monotonic() < deadline, f"no {path} after {REDIS_START_S} s"
        time.sleep(0.05)


def test_redis_loads_the_snippet_included_last(tmp_path: Path) -> None:
    """The snippet, included at the end of a redis.conf that says otherwise (as install.sh
    appends it to Debian's), sets what the daemon needs. The socket and directory are
    moved to the test's by arguments, which Redis applies after the file."""
    conf = tmp_path / "redis.conf"
    conf.write_text("appendonly no\nappendfsync always\nmaxmemory-policy allkeys-lru\n"
                    f"unixsocketperm 700\ninclude {REDIS_SNIPPET}\n")
    sock = tmp_path / "r.sock"
    process = subprocess.Popen(
        [find_redis_server(), str(conf), "--port", "0", "--unixsocket", str(sock),
         "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")], text=True)
    try:
        wait_for_socket(sock, process)
        found = {name: redis_command(sock, "CONFIG", "GET", name)[1]
                 for name in ("appendonly", "appendfsync", "maxmemory-policy", "unixsocketperm",
                              "bind")}
    finally:
        process.terminate()
        process.wait(timeout=REDIS_START_S)
    assert found == {"appendonly": "yes", "appendfsync": "everysec",
                     "maxmemory-policy": "noeviction", "unixsocketperm": "770",
                     "bind": "127.0.0.1 -::1"}
    assert redis_directives(REDIS_SNIPPET)["unixsocket"] == "/run/redis/redis-server.sock"
