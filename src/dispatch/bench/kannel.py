"""A real Kannel (bearerbox and smsbox, Debian's `kannel` package) between the daemon and
the simulator's SMSC, for the end-to-end test (tests/e2e/test_kannel.py) and the
benchmark (benchmarks/kannel_path.py).

Its kannel.conf holds loopback addresses and the free ports it is given (Kannel cannot
take port 0), logs and nothing else in `workdir`, delivery reports kept in memory
(`dlr-storage = internal`). Both boxes run in the foreground as children; ready means
smsbox's sendsms port answers and bearerbox reports its SMPP connection online.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import trio

from dispatch.processes import Child, ProcessFailed, last_line

USER: Final = ("dispatch", "kannel-pw")  # the sendsms-user (the daemon's username, password)
ADMIN_PASSWORD: Final = "kannel-admin"
SMSC_ID: Final = "sim"
MAX_MESSAGES: Final = 10  # the sendsms-user's parts at most (the gateway's max_parts)
READY_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class KannelPorts:
    admin: int  # bearerbox's HTTP admin (status)
    box: int  # bearerbox's port smsbox connects to
    sendsms: int  # smsbox's sendsms HTTP interface


@dataclass(frozen=True)
class Smsc:
    """The SMSC Kannel binds to (the simulator's), with its account."""

    port: int
    system_id: str
    password: str


def mo_url(inbound_port: int, gateway: str, token: str) -> str:
    """The sms-service get-url: every MO to the daemon's inbound port, as
    docs/gateways/kannel.md shows it."""
    return (f"http://127.0.0.1:{inbound_port}/kannel/mo?gateway={gateway}&token={token}"
            "&from=%p&to=%P&text=%b&charset=%C")


def kannel_conf(workdir: Path, ports: KannelPorts, smsc: Smsc, get_url: str, *,
                log_level: int = 1, window: int = 100) -> str:
    """A minimal kannel.conf: core, one SMPP transceiver, smsbox, the sendsms-user, and
    the default sms-service sending every MO to `get_url` (no reply SMS from Kannel)."""
    return f"""group = core
admin-port = {ports.admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
status-password = {ADMIN_PASSWORD}
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports.box}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{workdir / 'bearerbox.log'}"
log-level = {log_level}
access-log = "{workdir / 'bearerbox-access.log'}"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = {SMSC_ID}
host = 127.0.0.1
port = {smsc.port}
transceiver-mode = true
smsc-username = "{smsc.system_id}"
smsc-password = "{smsc.password}"
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports.box}
sendsms-port = {ports.sendsms}
sendsms-interface = 127.0.0.1
log-file = "{workdir / 'smsbox.log'}"
log-level = {log_level}
access-log = "{workdir / 'smsbox-access.log'}"
mo-recode = true
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {USER[0]}
password = {USER[1]}
user-allow-ip = "127.0.0.1"
concatenation = true
max-messages = {MAX_MESSAGES}

group = sms-service
keyword = default
catch-all = true
get-url = "{get_url}"
max-messages = 0
omit-empty = true
"""


@dataclass
class Kannel:
    bearerbox: Child
    smsbox: Child
    ports: KannelPorts
    workdir: Path

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sendsms}/cgi-bin/sendsms"

    def pids(self) -> list[int]:
        return [self.bearerbox.process.pid, self.smsbox.process.pid]

    def logs(self) -> str:
        return _logs(self.workdir)

    async def stop(self) -> None:
        """smsbox first (it gives back what it holds), then bearerbox."""
        await self.smsbox.stop(10)
        await self.bearerbox.stop(10)


async def start_kannel(workdir: Path, ports: KannelPorts, smsc: Smsc, get_url: str,
                       tools: tuple[str, str], reaper: list[Child], *, log_level: int = 1,
                       window: int = 100) -> Kannel:
    """Write kannel.conf in `workdir`, start bearerbox, then (once it listens) smsbox,
    `tools` being their paths, each appended to `reaper` at once; return when Kannel is
    ready to send."""
    config = workdir / "kannel.conf"
    config.write_text(kannel_conf(workdir, ports, smsc, get_url, log_level=log_level,
                                  window=window))
    admin = f"http://127.0.0.1:{ports.admin}/status.txt?password={ADMIN_PASSWORD}"
    bearerbox = await _start_box("bearerbox", tools[0], config, log_level, reaper)
    try:
        with trio.fail_after(READY_TIMEOUT_S):
            await _wait_for(admin, [bearerbox], lambda status: True)
            smsbox = await _start_box("smsbox", tools[1], config, log_level, reaper)
            await _wait_for(f"http://127.0.0.1:{ports.sendsms}/", [bearerbox, smsbox],
                            lambda answer: True)
            await _wait_for(admin, [bearerbox, smsbox], lambda status: "online" in status)
    except (trio.TooSlowError, ProcessFailed) as exc:
        raise ProcessFailed(f"Kannel did not start ({exc or 'not ready in time'}): "
                            f"{_logs(workdir)}") from None
    return Kannel(bearerbox, smsbox, ports, workdir)


async def _start_box(name: str, path: str, config: Path, log_level: int,
                     reaper: list[Child]) -> Child:
    """A box in the foreground, its console output (at `log_level`) in NAME.out."""
    with (config.parent / f"{name}.out").open("ab") as output:
        process = await trio.lowlevel.open_process(
            [path, "-v", str(log_level), str(config)], stdout=output,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    child = Child(name, process, {})
    reaper.append(child)
    return child


async def _wait_for(url: str, children: list[Child], ready: Callable[[str], bool]) -> None:
    """Until `url` answers a text `ready` accepts; a child that exits is a failure."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            for child in children:
                if child.process.returncode is not None:
                    raise ProcessFailed(f"{child.name} exited with {child.process.returncode}")
            try:
                if ready((await client.get(url)).text):
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            await trio.sleep(0.1)


def _logs(workdir: Path) -> str:
    """The last line of each box's logs, for a failure's message."""
    return "; ".join(f"{name}: {last_line(workdir / name)}"
                     for name in ("bearerbox.log", "smsbox.log", "bearerbox.out",
                                  "smsbox.out"))
