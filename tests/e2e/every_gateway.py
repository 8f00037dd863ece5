"""A daemon's configuration with a gateway of every kind on one simulator: HTTP, SMPP
(a pool of lines), voice (a pool of callers) and a route over the HTTP and SMPP ones. The
Prometheus and metrics tests run it."""

from __future__ import annotations

from pathlib import Path

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.inbound import CALLBACK_SECRET

ACCOUNT = "ACe2e"  # the voice account the simulator is started with

CONFIG = """\
[redis]
url = "{redis_url}"
key_prefix = "{key_prefix}"

[daemon]
consumer = "{consumer}"
inbound_port = 0
metrics_port = 0
retry_base_s = 0.05
retry_max_s = 0.5
max_attempts = 50
call_timeout_s = 30

[gateways.http]
url = "http://127.0.0.1:{http_port}"
inbound_secret = "{callback_secret}"
batch_size = 1
concurrency = 2

[gateways.smpp]
type = "smpp"
port = {smpp_port}
system_id = "e2e"
password = "secret"
binds = {binds}
window = 20
source_ton = 3
batch_size = 20
concurrency = 4

[gateways.calls]
type = "voice"
url = "http://127.0.0.1:{http_port}"
account_sid = "{account}"
auth_token = "token"
batch_size = 10
concurrency = 4

[gateways.either]
type = "route"
members = ["http", "smpp"]

[pools.lines]
gateway = "smpp"
rate = {line_rate}
burst = 1
lines = [{{ pattern = "3370000{{00..{last_line:02d}}}" }}]

[pools.callers]
gateway = "calls"
rate = 20
burst = 1
lines = [{{ pattern = "+339000000{{00..09}}" }}]
"""


def write_daemon_config(path: Path, settings: Settings, simulator: Child, *, consumer: str,
                        binds: int = 1, line_rate: float = 2, lines: int = 10) -> Path:
    """The configuration at `path`, for a daemon on `settings`' Redis and `simulator`:
    `binds` SMPP binds, `lines` lines of `line_rate` messages/s in the SMPP pool."""
    path.write_text(CONFIG.format(
        redis_url=settings.redis.url, key_prefix=settings.redis.key_prefix,
        http_port=simulator.ready["http_port"], smpp_port=simulator.ready["smpp_port"],
        account=ACCOUNT, callback_secret=CALLBACK_SECRET, consumer=consumer, binds=binds,
        line_rate=line_rate, last_line=lines - 1))
    return path
