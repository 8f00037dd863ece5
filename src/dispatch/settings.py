"""Typed settings from a TOML file and DISPATCH_* environment variables.

Every key is declared in a dataclass below; an unknown key or a value of the wrong type
is refused with one message that names the key (`daemon.batch_size: expected an integer,
got "ten"`), so a typo in a config file never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import pkgutil
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dispatch import redis_url
from dispatch.errors import ConfigError as ConfigError  # re-exported: raised from here
from dispatch.lines.config import LinesConfig, parse_lines_config
from dispatch.policy.answers import DEFAULT_OPTOUT_TEXT, check_text

ENV_CONFIG = "DISPATCH_CONFIG"
ENV_REDIS_URL = "DISPATCH_REDIS_URL"
ENV_STATE_DIR = "DISPATCH_STATE_DIR"
# Set by systemd for a unit with LoadCredential=: where the credentials' files are.
ENV_CREDENTIALS = "CREDENTIALS_DIRECTORY"


@dataclass(frozen=True)
class RedisSettings:
    # Empty: the embedded redis-server in the state directory.
    url: str = ""
    # Every key the product writes starts with this prefix (tests use one per test).
    key_prefix: str = "dispatch"
    # Replicas that must have a write before it is acknowledged (enqueued rows, receipts
    # and replies taken from gateways, opt-outs): with Sentinel, what a failover keeps.
    # 0: acknowledged once the master has it (one Redis, or losses at failover accepted).
    replicas: int = 0
    replica_timeout_ms: int = 1000  # a wait longer than this fails, and is waited out


@dataclass(frozen=True)
class EnqueueSettings:
    default_region: str = "FR"
    # Rows sent to Redis in one Lua call.
    batch_size: int = 2000
    # Rejected rows listed in the report; the count in `rejected` is always complete.
    max_errors_listed: int = 1000


@dataclass(frozen=True)
class DaemonSettings:
    # Consumer name in the stream group; empty means the host name. A restarted daemon
    # with the same name picks up its own pending messages first.
    consumer: str = ""
    batch_size: int = 500
    read_block_ms: int = 500
    # Messages pending this long on another (dead) consumer are claimed.
    claim_idle_s: float = 60.0
    shutdown_grace_s: float = 10.0
    max_attempts: int = 8
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    # Outcomes are recorded in batches of up to this size, or after this delay.
    record_batch_size: int = 500
    record_delay_ms: int = 5
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 8470
    # The receipt callback URL given to gateways; empty: built from inbound host and port.
    public_inbound_url: str = ""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9470
    # The inbound port's bounds (dispatch.httpserver.Limits). Connections at once: full, a
    # new one takes the slot of the one idle or slow longest (gateways send at once).
    inbound_max_connections: int = 256
    # A request's body: 413 beyond. The largest batch a gateway may post, 10,000 receipts
    # (gateways.http.callbacks.MAX_ITEMS_PER_REQUEST), is ~1.5 MB as the simulator writes it.
    inbound_max_body_bytes: int = 2 * 1024 * 1024
    # Seconds for a whole request (head and body) to arrive: slower clients are dropped.
    inbound_request_timeout_s: float = 10.0
    # Receipts for unknown ids (before their submission is recorded) parked in Redis at
    # most; beyond, they are counted (dispatch_receipts_total{result="orphan_dropped"}).
    orphan_receipt_cap: int = 100_000
    # A submitted message whose final receipt has not come after this many hours is
    # marked expired ("no final receipt"), so that every message ends in a final state.
    receipt_timeout_h: int = 48
    # Lines (pools): the spread of the delay between a line being chosen and the gateway
    # counting the message, absorbed by scheduling each line this much more cautiously
    # (see dispatch.lines.scheduler). Too small: line violations; too large: lost rate.
    line_jitter_s: float = 0.05
    # Lines are leased in Redis for this long (renewed every third of it), so that several
    # daemons on one Redis share them; a dead daemon's lines are taken over after it.
    # 0: no leases (one daemon alone drives every line).
    line_lease_s: float = 10.0
    # A call placed with no final status after this long frees its line and ends expired
    # (fate unknown): ringing, the message and a margin for the provider's callback.
    call_timeout_s: float = 600.0
    # Export the campaign series (dispatch_campaign_messages, dispatch_queue_depth), read
    # from Redis, from this daemon. They describe Redis, not the daemon: only one daemon on
    # a Redis should (with --processes N, worker 1 alone does; on several hosts, turn it off
    # on all but one).
    campaign_metrics: bool = True


@dataclass(frozen=True)
class GatewaySettings:
    type: str = "http"  # a gateway kind: "http", "smpp", "kannel", "twilio", "voice", or
    # "route" (below)
    # Messages per submit() call; HTTP: 1 = POST /sms, more = POST /sms/batch.
    batch_size: int = 50
    # Sender tasks feeding this gateway (HTTP: requests in flight).
    concurrency: int = 8
    # Seconds to wait for an answer (HTTP response, SMPP *_resp).
    timeout_s: float = 10.0
    sender: str = "DISPATCH"  # sender identity (SMPP: source_addr)
    # What the operator bills for one SMS part (EUR): the enqueue summary's cost estimate.
    price_per_part: float = 0.10
    # A voice provider's prices (EUR): each call placed, each connected minute started.
    price_per_attempt: float = 0.0
    price_per_minute: float = 0.0
    # --- HTTP, twilio and voice: the gateway's (the provider's) base URL; Kannel: smsbox's
    # sendsms URL (http://HOST:SENDSMS-PORT/cgi-bin/sendsms; without a path,
    # /cgi-bin/sendsms)
    url: str = "http://127.0.0.1:8480"
    # --- twilio and voice (a Twilio-style account: docs/gateways/twilio.md, docs/VOICE.md)
    account_sid: str = ""
    # Secret: rather from DISPATCH_GATEWAY_<NAME>_AUTH_TOKEN than from the file.
    auth_token: str = ""
    # twilio: send through this Messaging Service (its SID, "MG…") instead of `From`: the
    # provider picks the number; the service is then the line its STOPs apply to.
    messaging_service_sid: str = ""
    ring_timeout_s: float = 30.0  # seconds a phone rings before the call ends no-answer
    # --- HTTP, twilio, voice and Kannel: what the gateway posts to the daemon's inbound port
    # is signed (dispatch.signing; Kannel, which cannot sign, carries the inbound_secret as
    # a token in the URL): "signed", or "none" to take unsigned posts (a trusted network
    # only: anyone who reaches the port could opt numbers out or fail messages).
    inbound_auth: str = "signed"
    # HTTP: the secret shared with the gateway, which signs its receipts and replies with
    # it (twilio and voice: the auth_token; Kannel: the token of its dlr-url and get-url,
    # letters, digits and -._~ only). Secret: rather DISPATCH_GATEWAY_<NAME>_INBOUND_SECRET
    # or the credential gateway.<name>.inbound_secret than the file.
    inbound_secret: str = ""
    # --- SMPP 3.4
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    bind_mode: str = "transceiver"  # "transceiver", or "transmitter" + a receiver bind
    # Connections to open, and submit_sm outstanding per bind: as many as the operator's
    # SMSC allows. The window sets the CPU per message: each window's worth of messages
    # costs a read, a write and their wake-ups on both sides, whatever the batch size
    # (window 10: ~2.3x the CPU of 100; docs/ENGINEERING.md, "Default SMPP settings").
    # A second bind adds throughput (~8 %), not economy: one, unless the contract says more.
    binds: int = 1
    window: int = 100
    enquire_link_s: float = 30.0
    reconnect_max_s: float = 30.0
    source_ton: int = 5  # 5 alphanumeric, 1 international, 3 network specific (short code)
    source_npi: int = 0
    dest_ton: int = 1
    dest_npi: int = 1
    registered_delivery: int = 1
    # How this SMSC writes message ids in submit_sm_resp and in receipt texts: "" (as
    # given: only case, blanks and leading zeros are folded), "hex" or "dec".
    submit_id_base: str = ""
    receipt_id_base: str = ""
    # --- Kannel (docs/gateways/kannel.md): smsbox's sendsms-user; its password is
    # `password` (secret: rather DISPATCH_GATEWAY_<NAME>_PASSWORD or a credential).
    username: str = ""
    # Kannel's smsc group (its smsc-id) every message is routed to; "": Kannel's routing.
    smsc_id: str = ""
    # Parts a message may take at most (Kannel cuts long texts): a longer one is rejected,
    # since Kannel would silently cut it at its sendsms-user's max-messages, which must be
    # at least this.
    max_parts: int = 10
    # --- route: a gateway made of other gateways (dispatch.gateways.route). A campaign
    # on it goes through its members: the first one in service, or spread by weight; one
    # that fails is taken out for a while and its traffic goes to the next. A message is
    # moved to another member only when the first surely did not take it.
    members: tuple[str, ...] = ()  # SMS gateways configured here, in order of preference
    # Traffic spread in proportion to these (each member's weight, >= 1); empty: in order.
    weights: dict[str, int] = field(default_factory=dict)
    # Numbers starting with a prefix ("+262") use its members instead, in order of
    # preference (the longest prefix that matches wins): overseas numbers via another
    # operator.
    prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    out_after: int = 3  # failed submissions in a row that take a member out of service
    out_for_s: float = 10.0  # how long out the first time; doubled at each new failure
    out_max_s: float = 300.0  # ... up to this


@dataclass(frozen=True)
class AnswerSettings:
    """Answers to MO (dispatch.policy.answers): HELP/INFO/AIDE, and one confirmation per
    opt-out. Placeholders: {identity}, {client} (the senders of the campaigns that wrote to
    the number, else identity), {line} (the number the MO was sent to)."""

    identity: str = "DISPATCH"  # who runs the lines, as recipients should read it
    help_text: str = ("{identity} : vous recevez ce message de {client}. Pour ne plus "
                      "recevoir de messages, répondez STOP.")
    confirm_optout: bool = True
    optout_text: str = DEFAULT_OPTOUT_TEXT
    batch_size: int = 100  # answers read and submitted at a time
    retry_s: float = 30.0  # after a transient gateway error, tried again this much later
    max_age_h: float = 24.0  # not sent after this long: recorded failed, never sent late


@dataclass(frozen=True)
class RetentionSettings:
    # Campaign data (recipients, texts, receipts, replies) is purged this many days after
    # the campaign ends; aggregates and opt-outs (as keyed hashes) are kept. 0: never.
    days: int = 60
    interval_s: float = 3600.0  # how often the daemon looks for campaigns to purge


@dataclass(frozen=True)
class Settings:
    redis: RedisSettings = field(default_factory=RedisSettings)
    enqueue: EnqueueSettings = field(default_factory=EnqueueSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    gateways: dict[str, GatewaySettings] = field(
        default_factory=lambda: {"default": GatewaySettings()}
    )
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    answers: AnswerSettings = field(default_factory=AnswerSettings)
    # Pools of lines and gateway caps: the [pools.*] and [gateway_caps.*] tables, parsed by
    # dispatch.lines.config (not a TOML key of its own, hence the metadata).
    lines: LinesConfig = field(default_factory=LinesConfig.empty, metadata={"toml": False})
    # Where the embedded Redis keeps its socket and data; set from DISPATCH_STATE_DIR.
    state_dir: str = ""
    # Gateway secrets the file takes from a credential (`{ credential = "NAME" }`) that
    # could not be found, one message each: `dispatch run` refuses to start with any
    # (check_for_daemon); commands that send nothing do not need them.
    missing_credentials: tuple[str, ...] = field(default=(), metadata={"toml": False})


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dispatch"


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `path` (or $DISPATCH_CONFIG), then the environment on top."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_CONFIG) or None
    try:
        raw: dict[str, Any] = _read_toml(Path(path)) if path else {}
        rest = {key: value for key, value in raw.items() if key not in LINES_TABLES}
        rest, references = _credential_references(rest)
        settings = _apply_env(_build(Settings, rest, ""), env, references)
        settings = dataclasses.replace(settings, lines=parse_lines_config(raw))
        _check_values(settings)
    except ConfigError as exc:
        # Messages name keys as the file wrote them, and a quoted TOML key may hold a line
        # break ("a\nb" = 1): the one-line error stays one line.
        message = str(exc)
        if len(message.splitlines()) <= 1:
            raise
        raise ConfigError(one_line(message)) from None
    return settings


# What str.splitlines() breaks a line at.
_LINE_BREAKS: Final = {ord(c): f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                       for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(message: str) -> str:
    """`message` with its line breaks escaped (\\x0a...)."""
    return message.translate(_LINE_BREAKS)


LINES_TABLES = ("pools", "gateway_caps")  # read by parse_lines_config


def pool_for(settings: Settings, gateway: str, pool: str | None) -> str:
    """The pool a campaign on `gateway` sends from: `pool` when given (it must be one of
    that gateway's), else the gateway's only pool, else "" (the gateway's `sender`)."""
    if gateway not in settings.gateways:
        raise ConfigError(f"unknown gateway {gateway!r} (configured: "
                          f"{', '.join(sorted(settings.gateways))})")
    pools = [p.name for p in settings.lines.pools_of(gateway)]
    if pool is None:
        return pools[0] if len(pools) == 1 else ""
    if pool not in settings.lines.pools:
        known = ", ".join(sorted(settings.lines.pools)) or "none configured"
        raise ConfigError(f"unknown pool {pool!r} (pools: {known})")
    if pool not in pools:
        raise ConfigError(f"pool {pool!r} is on gateway "
                          f"{settings.lines.pools[pool].gateway!r}, not {gateway!r}")
    return pool




GATEWAYS_DIR = Path(__file__).with_name("gateways")


def gateway_kinds() -> tuple[str, ...]:
    """The gateway kinds `type` may name: a package each in dispatch/gateways, listed
    there, not imported (settings are read by commands that send nothing, and sit below
    the gateways, which read them)."""
    return tuple(sorted(module.name for module in pkgutil.iter_modules([str(GATEWAYS_DIR)])
                        if module.ispkg))


BIND_MODES = ("transceiver", "transmitter")
INBOUND_AUTH = ("signed", "none")
ID_BASES = ("", "hex", "dec")


def _check_values(settings: Settings) -> None:
    """Range checks a type cannot express, each naming its key."""
    for name, gateway in settings.gateways.items():
        kinds = gateway_kinds()
        if gateway.type not in kinds:
            raise ConfigError(f"gateways.{name}.type: must be one of {', '.join(kinds)}, "
                              f"got {gateway.type!r}")
        for key in ("batch_size", "concurrency", "binds", "window", "max_parts"):
            if getattr(gateway, key) < 1:
                raise ConfigError(f"gateways.{name}.{key}: must be at least 1")
        for key in ("price_per_part", "price_per_attempt", "price_per_minute"):
            price = getattr(gateway, key)
            if not 0 <= price < float("inf"):
                raise ConfigError(f"gateways.{name}.{key}: must be a price >= 0, "
                                  f"got {price!r}")
        _check_choice(f"gateways.{name}.bind_mode", gateway.bind_mode, BIND_MODES)
        _check_choice(f"gateways.{name}.inbound_auth", gateway.inbound_auth, INBOUND_AUTH)
        _check_choice(f"gateways.{name}.submit_id_base", gateway.submit_id_base, ID_BASES)
        _check_choice(f"gateways.{name}.receipt_id_base", gateway.receipt_id_base, ID_BASES)
        _check_route(name, gateway, settings.gateways)
    for key in ("batch_size", "max_attempts", "record_batch_size", "receipt_timeout_h",
                "inbound_max_connections", "inbound_max_body_bytes", "orphan_receipt_cap"):
        if getattr(settings.daemon, key) < 1:
            raise ConfigError(f"daemon.{key}: must be at least 1")
    _check_answers(settings.answers)
    if not 0 <= settings.daemon.line_jitter_s <= 10:
        raise ConfigError("daemon.line_jitter_s: must be between 0 and 10 seconds")
    if settings.daemon.line_lease_s != 0 and not 1 <= settings.daemon.line_lease_s <= 3600:
        raise ConfigError("daemon.line_lease_s: must be 0 (no leases) or 1 to 3600 seconds")
    if not 0 < settings.daemon.inbound_request_timeout_s <= 3600:
        raise ConfigError("daemon.inbound_request_timeout_s: must be more than 0 and at most "
                          "3600 seconds")
    if settings.daemon.call_timeout_s <= 0:
        raise ConfigError("daemon.call_timeout_s: must be more than 0")
    if settings.retention.days < 0 or settings.retention.interval_s <= 0:
        raise ConfigError("retention: days must be >= 0 and interval_s > 0")
    if settings.enqueue.batch_size < 1:
        raise ConfigError("enqueue.batch_size: must be at least 1")
    if settings.redis.replicas < 0 or settings.redis.replica_timeout_ms < 1:
        raise ConfigError("redis: replicas must be >= 0 and replica_timeout_ms >= 1")
    _check_lines(settings)
    if settings.redis.url:
        check_redis_url(settings.redis.url, "redis.url")


ROUTE_KIND = "route"
ROUTE_KEYS = ("members", "weights", "prefixes")
PREFIX = re.compile(r"\+[0-9]{1,15}")


def _check_route(name: str, gateway: GatewaySettings,
                 gateways: Mapping[str, GatewaySettings]) -> None:
    """A route's members are SMS gateways configured here; the route keys only on one."""
    where = f"gateways.{name}"
    if gateway.type != ROUTE_KIND:
        for key in ROUTE_KEYS:
            if getattr(gateway, key):
                raise ConfigError(f'{where}.{key}: only a route has members (type = "route")')
        return
    if not gateway.members:
        raise ConfigError(f"{where}.members: a route needs at least one member gateway")
    _check_members(f"{where}.members", gateway.members, gateways)
    if gateway.weights and set(gateway.weights) != set(gateway.members):
        raise ConfigError(f"{where}.weights: give a weight to each member and only to them "
                          f"(members: {', '.join(gateway.members)})")
    for member, weight in gateway.weights.items():
        if weight < 1:
            raise ConfigError(f"{where}.weights.{member}: must be at least 1")
    for prefix, members in gateway.prefixes.items():
        if not PREFIX.fullmatch(prefix):
            raise ConfigError(f'{where}.prefixes.{prefix}: a prefix is "+" and digits, '
                              f'e.g. "+262"')
        if not members:
            raise ConfigError(f"{where}.prefixes.{prefix}: name at least one gateway")
        _check_members(f"{where}.prefixes.{prefix}", members, gateways)
    if gateway.out_after < 1:
        raise ConfigError(f"{where}.out_after: must be at least 1")
    if not 0 < gateway.out_for_s <= gateway.out_max_s:
        raise ConfigError(f"{where}.out_for_s: must be more than 0 and at most out_max_s")


def _check_members(where: str, members: tuple[str, ...],
                   gateways: Mapping[str, GatewaySettings]) -> None:
    if len(set(members)) != len(members):
        raise ConfigError(f"{where}: a gateway is named twice")
    for member in members:
        if member not in gateways:
            raise ConfigError(f"{where}: unknown gateway {member!r} (configured: "
                              f"{', '.join(sorted(gateways))})")
        kind = gateways[member].type
        if kind == ROUTE_KIND:
            raise ConfigError(f"{where}: {member!r} is a route; a route's members are "
                              f"gateways")
        if kind == "voice":
            raise ConfigError(f"{where}: {member!r} places calls; a route carries SMS")


def check_redis_url(url: str, where: str) -> None:
    """A ConfigError naming the faulty part of the URL and where it was set; never the
    URL itself (it may hold a password)."""
    try:
        redis_url.check(url)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_answers(answers: AnswerSettings) -> None:
    for name in ("help_text", "optout_text"):
        try:
            check_text(name, getattr(answers, name))
        except ValueError as exc:
            raise ConfigError(f"answers.{exc}") from None
    if answers.batch_size < 1 or answers.retry_s <= 0 or answers.max_age_h <= 0:
        raise ConfigError("answers: batch_size must be >= 1, retry_s and max_age_h > 0")


def _check_lines(settings: Settings) -> None:
    """Pools and caps name configured gateways; caps only apply to a gateway with pools."""
    settings.lines.check_gateways(settings.gateways)
    for name in settings.lines.caps:
        if not settings.lines.pools_of(name):
            raise ConfigError(f"gateway_caps.{name}: gateway {name!r} has no pool: its caps "
                              f"apply to the line scheduler, which only pools use")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8: tomllib decodes before it parses
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte 0x"
                          f"{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: must be one of {', '.join(map(repr, choices))}, "
                          f"got {value!r}")


def _apply_env(settings: Settings, env: Mapping[str, str],
               references: Mapping[tuple[str, str], str] | None = None) -> Settings:
    redis = settings.redis
    if env.get(ENV_REDIS_URL):
        check_redis_url(env[ENV_REDIS_URL], ENV_REDIS_URL)
        redis = dataclasses.replace(redis, url=env[ENV_REDIS_URL])
    state_dir = env.get(ENV_STATE_DIR) or settings.state_dir or str(default_state_dir())
    missing: list[str] = []
    gateways = {name: _gateway_secrets(name, gateway, env, references or {}, missing)
                for name, gateway in settings.gateways.items()}
    return dataclasses.replace(settings, redis=redis, state_dir=state_dir, gateways=gateways,
                               missing_credentials=tuple(missing))


SECRET_KEYS = ("password", "auth_token", "inbound_secret")


def secret_variable(gateway: str, key: str) -> str:
    """The environment variable that holds a gateway's secret: DISPATCH_GATEWAY_<NAME>_<KEY>
    (the name upper-cased, "-" and "." as "_")."""
    name = gateway.upper().replace("-", "_").replace(".", "_")
    return f"DISPATCH_GATEWAY_{name}_{key.upper()}"


def credential_name(gateway: str, key: str) -> str:
    """The systemd credential that holds a gateway's secret unless the file names another
    one: gateway.<name>.<key> (the unit's `LoadCredential=gateway.<name>.<key>:PATH`)."""
    return f"gateway.{gateway}.{key}"


def _gateway_secrets(name: str, gateway: GatewaySettings, env: Mapping[str, str],
                     references: Mapping[tuple[str, str], str], missing: list[str]
                     ) -> GatewaySettings:
    """Each secret from, first found: the environment (DISPATCH_GATEWAY_<NAME>_<KEY>),
    the credential the file names (`password = { credential = "NAME" }`), else the
    credential gateway.<name>.<key> when there is one, else the file's value. Credentials
    are files in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=), which keep secrets out
    of the configuration and out of the environment. A credential the file names and
    nobody gave is added to `missing`."""
    found: dict[str, Any] = {}
    for key in SECRET_KEYS:
        variable = secret_variable(name, key)
        if variable in env:
            found[key] = env[variable]
            continue
        referenced = references.get((name, key))
        credential = referenced or credential_name(name, key)
        value, why = _read_credential(env, credential, f"gateways.{name}.{key}")
        if value is not None:
            found[key] = value
        elif referenced:
            missing.append(f"gateways.{name}.{key}: credential {credential} {why} (the "
                           f"unit's LoadCredential={credential}:PATH gives it; or set "
                           f"{variable})")
    return dataclasses.replace(gateway, **found) if found else gateway


MAX_CREDENTIAL_BYTES = 64 * 1024


def _read_credential(env: Mapping[str, str], credential: str, where: str
                     ) -> tuple[str | None, str]:
    """The credential's text, without the line end a text editor leaves (one LF or
    "\r\n"), or None and why not. An empty file is no value. A file that is there but
    cannot be used (unreadable, not UTF-8 text) is a ConfigError naming `where`."""
    directory = env.get(ENV_CREDENTIALS)
    if not directory:
        return None, f"not found: ${ENV_CREDENTIALS} is not set"
    path = Path(directory) / credential
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CREDENTIAL_BYTES + 1)
    except FileNotFoundError:
        return None, f"not found in ${ENV_CREDENTIALS} ({directory})"
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read credential {credential}: "
                          f"{(exc.strerror or str(exc)).lower()} ({directory})") from None
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise ConfigError(f"{where}: credential {credential} is longer than "
                          f"{MAX_CREDENTIAL_BYTES} bytes: not a secret ({directory})")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: credential {credential} is not UTF-8 text "
                          f"({directory})") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        return None, f"is empty ({directory})"
    return text, ""


def _credential_references(raw: dict[str, Any]
                           ) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """`raw` with each gateway secret written `{ credential = "NAME" }` taken out (the
    value comes from that credential), and those references: {(gateway, key): NAME}.
    Anything else is left for _build to check (and refuse)."""
    gateways = raw.get("gateways")
    if not isinstance(gateways, dict):
        return raw, {}
    references: dict[tuple[str, str], str] = {}
    tables: dict[str, Any] = {}
    for name, table in gateways.items():
        if isinstance(table, dict):
            table = dict(table)
            for key in SECRET_KEYS:
                if isinstance(table.get(key), dict):
                    references[name, key] = _credential_reference(
                        table.pop(key), f"gateways.{name}.{key}")
        tables[name] = table
    return {**raw, "gateways": tables}, references


def _credential_reference(value: dict[str, Any], where: str) -> str:
    credential = value.get("credential")
    if set(value) != {"credential"} or not isinstance(credential, str):
        raise ConfigError(f'{where}: expected a string or {{ credential = "NAME" }}, '
                          f"got {_describe(value)}")
    if not credential or credential in (".", "..") or "/" in credential:
        raise ConfigError(f"{where}: credential: not a credential name: {credential!r}")
    return credential


def check_for_daemon(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """What `dispatch run` needs on top of what every command reads: every credential
    its file names, and under systemd a Redis of its own. The embedded Redis is for demos
    and tests: started by a service's daemon it would live and die with the service."""
    env = os.environ if env is None else env
    if settings.missing_credentials:
        first, *others = settings.missing_credentials
        raise ConfigError(first + (f" (and {len(others)} more)" if others else ""))
    if not settings.redis.url and env.get("INVOCATION_ID") and env.get("NOTIFY_SOCKET"):
        raise ConfigError("redis.url: not set: a systemd service never starts the embedded "
                          "Redis, which would stop with it; name the Redis unit's socket "
                          "(deploy/dispatch.toml: unix:///run/redis/redis-server.sock)")
    check_inbound_secrets(settings)


# Gateway kinds that post to the daemon's inbound port (the others need no port).
INBOUND_KINDS = ("http", "kannel", "twilio", "voice")


def serves_inbound(settings: Settings) -> bool:
    """Whether some gateway posts to the inbound port (else the daemon opens none)."""
    return any(gateway.type in INBOUND_KINDS for gateway in settings.gateways.values())


def check_inbound_secrets(settings: Settings) -> None:
    """An HTTP gateway signs what it posts with its inbound_secret (a Kannel gateway
    carries it as a token); without one, the daemon does not start unless told
    `inbound_auth = "none"`: an inbound port that takes anyone's STOP, START or receipt
    must be chosen, never the default. (Twilio and voice gateways sign with their
    auth_token, which they cannot lack.)"""
    for name, gateway in settings.gateways.items():
        if (gateway.type in SECRET_SIGNED_KINDS and gateway.inbound_auth == "signed"
                and not gateway.inbound_secret):
            raise ConfigError(
                f"gateways.{name}.inbound_secret: required: the gateway "
                f"{SECRET_SIGNED_KINDS[gateway.type]} (set "
                f"{secret_variable(name, 'inbound_secret')} or the credential "
                f"{credential_name(name, 'inbound_secret')}; or inbound_auth = \"none\" "
                f"to take unauthenticated posts on a trusted network)")


# Gateway kinds whose callbacks are checked with the inbound_secret, and how they use it.
SECRET_SIGNED_KINDS: Final = {
    "http": "signs the receipts and replies it posts with it",
    "kannel": "calls its dlr-url and get-url with it as a token",
}


T = typing.TypeVar("T")


def _build(cls: type[T], raw: Any, where: str) -> T:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a table, got {_describe(raw)}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
             if f.metadata.get("toml", True)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{where}.{key}" if where else key
        if key not in known:
            suggestions = known | set(LINES_TABLES) if cls is Settings else known
            raise ConfigError(f"{name}: unknown key{_suggest(key, suggestions)}")
        values[key] = _convert(hints[key], value, name)
    return cls(**values)


def _convert(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, name)  # type: ignore[arg-type]
    if typing.get_origin(hint) is tuple:  # an array of one scalar type: tuple[str, ...]
        item_type = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected an array, got {_describe(value)}")
        return tuple(_scalar(item_type, v, f"{name}[{i}]") for i, v in enumerate(value))
    if typing.get_origin(hint) is dict:
        _, item_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table, got {_describe(value)}")
        return {k: _convert(item_type, v, f"{name}.{k}") for k, v in value.items()}
    return _scalar(hint, value, name)


_SCALAR_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _scalar(hint: Any, value: Any, name: str) -> Any:
    if isinstance(hint, types.UnionType):  # pragma: no cover - no optional keys yet
        hint = typing.get_args(hint)[0]
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{name}: expected {_SCALAR_NAMES[hint]}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    kind = {str: "string", bool: "boolean", int: "integer", float: "number",
            dict: "table", list: "array"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, dict | list) else kind


def _suggest(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(sorted(known))})"
