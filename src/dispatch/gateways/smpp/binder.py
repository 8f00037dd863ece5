"""Keeping one bind up: connect, bind, serve the connection, reconnect with backoff.

A refused bind whose status says the credentials or the bind type are wrong
(ESME_RBINDFAIL, ESME_RINVPASWD, ESME_RINVSYSID, ESME_RINVSYSTYP) is a configuration error:
one ERROR line naming the gateway and the status (never the password), and the next try
only after `reconnect_max_s`. Any other failure retries with jittered exponential backoff
up to `reconnect_max_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio

from dispatch.gateways.errors import DISCONNECTED
from dispatch.gateways.smpp.connection import BOUND, RAW_COMMANDS, RECEIVE_SIZE, Connection
from dispatch.gateways.smpp.delivery import DeliveryHandler
from dispatch.gateways.smpp.keepalive import ConnectionLost
from dispatch.gateways.smpp.pool import Pool
from dispatch.policy.backoff import Backoff, Retries
from dispatch.settings import GatewaySettings
from dispatch.smpp import (
    NEED_DATA,
    Bind,
    BindResp,
    ConnectionClosed,
    EnquireLink,
    GenericNack,
    ProtocolError,
    Role,
    Session,
    StatusClass,
    classify_status,
    response_to,
    status_name,
)
from dispatch.smpp import Rejected as SessionRejected
from dispatch.smpp.errors import SmppEncodeError, SmppError

log = logging.getLogger(__name__)

STABLE_S: Final = 10.0  # a connection up this long resets the backoff
FIRST_RETRY_S: Final = 0.5  # the first reconnection waits 0.25 to 0.5 s
CONNECT_ERRORS: Final = (OSError, trio.BrokenResourceError, trio.TooSlowError, ConnectionLost,
                         SmppError)


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with {status_name(status)} (0x{status:08x})")
        self.status = status

    @property
    def configuration_error(self) -> bool:
        return classify_status(self.status) is StatusClass.BIND_CONFIG


async def open_bind(host: str, port: int, bind: Bind, timeout_s: float
                    ) -> tuple[trio.SocketStream, Session]:
    """A TCP connection bound as `bind` asks, with its session; raises BindRefused,
    ConnectionLost, trio.TooSlowError or OSError."""
    with trio.fail_after(timeout_s):
        stream = await trio.open_tcp_stream(host, port)
        try:
            session = Session(Role.ESME, raw=RAW_COMMANDS)
            await stream.send_all(session.send(bind))
            status = await _bind_status(stream, session)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    if status or session.state not in BOUND:
        await trio.aclose_forcefully(stream)
        raise BindRefused(status or 0xFF)
    return stream, session


async def _bind_status(stream: trio.SocketStream, session: Session) -> int:
    """Read until the bind's answer; what the SMSC asks meanwhile is answered."""
    while True:
        while (event := session.next_event()) is not NEED_DATA:
            if isinstance(event, BindResp | GenericNack):
                return event.command_status or (0xFF if isinstance(event, GenericNack) else 0)
            if isinstance(event, EnquireLink):
                await stream.send_all(session.send(response_to(event)))
            elif isinstance(event, SessionRejected):
                await stream.send_all(event.data)
            elif isinstance(event, ProtocolError | ConnectionClosed):
                raise ConnectionLost("the SMSC closed or garbled the connection during bind")
        session.receive_data(await stream.receive_some(RECEIVE_SIZE))


@dataclass(frozen=True)
class BindKind:
    """What a slot binds as: its name in the logs, its bind PDU, whether it submits."""

    label: str
    bind: Callable[[], Bind]
    submits: bool


class BindSlot:
    """One of a gateway's binds, kept up until cancelled; its life goes to the pool."""

    def __init__(self, kind: BindKind, config: GatewaySettings, handler: DeliveryHandler,
                 pool: Pool) -> None:
        self.label = kind.label
        self._kind = kind
        self._config = config
        self._handler = handler
        self._pool = pool

    async def run(self) -> None:
        backoff = Retries(Backoff(FIRST_RETRY_S, self._config.reconnect_max_s))
        while True:
            delay = await self._attempt(backoff)
            await trio.sleep(delay)

    async def _attempt(self, backoff: Retries) -> float:
        """Bind and serve until the connection ends; the delay before the next attempt."""
        config = self._config
        try:
            stream, session = await open_bind(config.host, config.port, self._kind.bind(),
                                              config.timeout_s)
        except BindRefused as exc:
            self._pool.stats.errors.smpp_status(exc.status)
            return self._failed(self._refused(exc, backoff), f"{self.label}: {exc}")
        except CONNECT_ERRORS as exc:
            if isinstance(exc, ConnectionLost):
                self._pool.stats.errors.count(DISCONNECTED)
            else:
                self._pool.stats.errors.transport(exc)
            delay = backoff.next_delay()
            log.warning("%s: cannot bind to %s:%d (%s); retrying in %.1f s", self.label,
                        config.host, config.port, _describe(exc), delay)
            return self._failed(delay, f"{self.label}: cannot bind to {config.host}:"
                                       f"{config.port} ({_describe(exc)})")
        return await self._serve(stream, session, backoff)

    def _failed(self, delay: float, reason: str) -> float:
        self._pool.stats.bind_failures += 1
        self._pool.failed(reason)
        self._pool.attempted(self._kind.submits)
        return delay

    def _refused(self, exc: BindRefused, backoff: Retries) -> float:
        if exc.configuration_error:
            delay = backoff.slow()
            log.error("%s: configuration error: %s for system_id %r; check the credentials "
                      "and bind type; retrying in %.0f s", self.label, exc,
                      self._config.system_id, delay)
            return delay
        delay = backoff.next_delay()
        log.warning("%s: %s; retrying in %.1f s", self.label, exc, delay)
        return delay

    async def _serve(self, stream: trio.SocketStream, session: Session,
                     backoff: Retries) -> float:
        pool = self._pool
        connection = Connection(self.label, stream, session, self._config, self._handler,
                                pool.stats, pool.changed, can_submit=self._kind.submits)
        up_since = trio.current_time()
        pool.up(connection)
        pool.attempted(self._kind.submits)
        log.info("%s: bound to %s:%d", self.label, self._config.host, self._config.port)
        try:
            reason = await connection.run()
        finally:
            pool.down(connection)
        pool.stats.errors.count(DISCONNECTED)
        if trio.current_time() - up_since >= STABLE_S:
            backoff.reset()
        delay = backoff.next_delay()
        pool.failed(f"{self.label}: connection ended: {reason}")
        log.warning("%s: connection ended: %s; reconnecting in %.1f s", self.label, reason,
                    delay)
        return delay


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "no answer in time"
    if isinstance(exc, SmppEncodeError):  # its message would quote the password
        return "the bind PDU cannot be encoded: check system_id, password, system_type"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
