"""Composition root: the one place where the daemon's parts are built and wired; the daemon
(daemon/service.py) only runs and stops them.

    run_daemon ─► Redis links ─► build_daemon ─┬─ serving: listeners, gateways, inbox,
                                               │  opt-out check, answerer
                                               └─ pipeline: reader, outlets, line feeds,
                                                  senders, recorder, retrier, sweeper

The listeners are opened before anything is built, so the receipt callback URL the HTTP
gateways are given (it holds the inbound port) is known when they are.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from urllib.parse import urlencode, urlsplit

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.inbound.answers import Answerer, answer_texts
from dispatch.daemon.inbound.auth import (
    GATEWAY_PARAM,
    HmacVerifier,
    InboundAuth,
    TokenVerifier,
    TwilioVerifier,
    Verifier,
    authenticated,
)
from dispatch.daemon.inbound.inbox import Inbox
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.daemon.inbound.routes import (
    gateway_get_paths,
    gateway_paths,
    gateway_routes,
    inbound_handler,
)
from dispatch.daemon.lifecycle import Lifecycle, RedisWatch
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.notify import sd_notify
from dispatch.daemon.outbound.calls import CallBook, CapGuard
from dispatch.daemon.outbound.inflight import InFlightNumbers
from dispatch.daemon.outbound.line_feed import LineFeed, LinePlan, not_busy, room
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.optout_check import SharedOptOutCheck, optout_check
from dispatch.daemon.outbound.outlet import Outlet, forward_released
from dispatch.daemon.outbound.reader import Backpressure, Reader
from dispatch.daemon.outbound.recorder import Recorder
from dispatch.daemon.outbound.retrier import Retrier
from dispatch.daemon.outbound.sender import Sender, Sending
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.daemon.service import (
    STOP_SIGNALS,
    Daemon,
    Endpoint,
    Pipeline,
    Ports,
    Serving,
    Task,
    announce,
    watch_signals,
)
from dispatch.daemon.upkeep.campaign_gauges import CampaignGaugeRefresher
from dispatch.daemon.upkeep.retention import purge_forever
from dispatch.daemon.upkeep.sweeper import ReceiptSweeper
from dispatch.daemon.upkeep.waiting import WaitingPublisher, window_group
from dispatch.gateways import http, kannel, route, smpp, twilio, voice
from dispatch.gateways.base import Gateway
from dispatch.httpserver import Limits, bound_port
from dispatch.keys import Keys
from dispatch.lines.config import GatewayCaps
from dispatch.listening import open_listeners
from dispatch.policy.backoff import RetryPolicy
from dispatch.settings import (
    INBOUND_KINDS,
    ROUTE_KIND,
    DaemonSettings,
    GatewaySettings,
    Settings,
    serves_inbound,
)
from dispatch.store.call_cap import CallCap
from dispatch.store.call_counts import CallCounts
from dispatch.store.campaign_gauges import CampaignGauges
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.line_leases import LineLeases
from dispatch.store.links import open_script_link
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis, open_redis, resolve_url, wait_for_redis, where
from dispatch.store.replication import Replication
from dispatch.store.scripts import CommandLink, ScriptHost
from dispatch.store.server_config import ConfigUnreadable, server_config
from dispatch.store.waiting import WindowWaiting
from dispatch.vocabulary import Outcome

log = logging.getLogger(__name__)

# Builds a configured gateway: (name, its settings, the receipt callback URL).
GatewayBuilder = Callable[[str, GatewaySettings, str], Gateway]
# Every gateway kind that speaks to a provider, by the `type` that names it: a package of
# dispatch.gateways each. A route (ROUTE_KIND, the package gateways.route) is built after
# them, from them.
GATEWAY_KINDS: Mapping[str, GatewayBuilder] = {
    "http": http.build,
    "smpp": smpp.build,
    "twilio": twilio.build,
    "voice": voice.build,
    "kannel": kannel.build,
}
# Kinds whose provider signs its posts as Twilio does (X-Twilio-Signature, auth_token).
TWILIO_SIGNED_KINDS = ("twilio", "voice")
WAITER_CAPACITY = 100_000  # messages held for their window; past it, the retrier holds them


def consumer_name(settings: Settings) -> str:
    return settings.daemon.consumer or socket.gethostname()


def senders(settings: Settings) -> dict[str, str]:
    """The sender identity of each gateway (the line its messages go out from)."""
    return {name: config.sender for name, config in settings.gateways.items()}


def pool_gateways(settings: Settings) -> dict[str, str]:
    """The gateway of each pool (the campaign book checks a campaign's pool against it)."""
    return {name: pool.gateway for name, pool in settings.lines.pools.items()}


def build_gateway(name: str, config: GatewaySettings, callback_url: str) -> Gateway:
    return GATEWAY_KINDS[config.type](name, config, callback_url)


def callback_urls(settings: Settings, inbound_port: int | None) -> dict[str, str]:
    """Each gateway's callback URL (callback_url)."""
    return {name: callback_url(settings.daemon, inbound_port, name)
            for name in settings.gateways}


def build_gateways(settings: Settings, callbacks: Mapping[str, str]) -> dict[str, Gateway]:
    """Every configured gateway: those that speak to a provider, then the routes over
    them."""
    gateways: dict[str, Gateway] = {
        name: build_gateway(name, config, callbacks[name])
        for name, config in settings.gateways.items() if config.type != ROUTE_KIND}
    routes = {name: route.build(name, config, gateways)
              for name, config in settings.gateways.items() if config.type == ROUTE_KIND}
    return gateways | routes


def callback_url(settings: DaemonSettings, inbound_port: int | None, gateway: str) -> str:
    """Where gateway `gateway` posts receipts: the configured public URL, else this
    daemon's, naming the gateway (its posts are checked with its secret); "" when no
    inbound port is served (no gateway posts back)."""
    if inbound_port is None:
        return ""
    base = (settings.public_inbound_url
            or f"http://{settings.inbound_host}:{inbound_port}/receipts")
    separator = "&" if urlsplit(base).query else "?"
    return f"{base}{separator}{urlencode({GATEWAY_PARAM: gateway})}"


def inbound_verifier(name: str, config: GatewaySettings, callback: str) -> Verifier | None:
    """How the posts of gateway `name` are checked; None: taken unsigned (said once)."""
    if config.inbound_auth == "none":
        if config.type in INBOUND_KINDS:
            log.warning("gateway %s: inbound_auth = \"none\": receipts and replies posted to "
                        "the inbound port are taken unsigned; anyone who reaches the port "
                        "can opt numbers out or fail messages", name)
        return None
    if config.type in TWILIO_SIGNED_KINDS:
        return TwilioVerifier(config.auth_token, callback)
    if config.type == "kannel":  # Kannel cannot sign: a token in the URLs it calls
        return TokenVerifier(config.inbound_secret, kannel.TOKEN_PARAM)
    return HmacVerifier(config.inbound_secret)


def inbound_auth(settings: Settings, gateways: Mapping[str, Gateway],
                 callbacks: Mapping[str, str], inbox: Inbox, metrics: DaemonMetrics
                 ) -> InboundAuth:
    """The check of every post to the inbound port, gateway by gateway."""
    verifiers = {name: inbound_verifier(name, settings.gateways[name], callbacks[name])
                 for name in gateways}
    return InboundAuth(verifiers, gateway_paths(gateways.values(), inbox),
                       metrics.inbound_rejected)


def inbound_limits(settings: Settings) -> Limits:
    """What one client may take of the inbound port (daemon.inbound_* settings)."""
    config = settings.daemon
    return Limits(config.inbound_max_connections, config.inbound_max_body_bytes,
                  config.inbound_request_timeout_s)


def line_plans(settings: Settings, gateways: Mapping[str, Gateway]) -> dict[str, LinePlan]:
    """The line scheduler of each gateway with pools: its pools and caps."""
    daemon = settings.daemon
    return {name: LinePlan(pools, gateway_caps(settings.lines.caps_of(name),
                                               gateways[name].outstanding),
                           daemon.line_jitter_s, daemon.line_lease_s)
            for name in gateways if (pools := settings.lines.pools_of(name))}


def gateway_caps(caps: GatewayCaps, outstanding: int | None) -> GatewayCaps:
    """The configured caps; a gateway's window is at most what the gateway keeps outstanding
    itself (SMPP: its binds' windows), so that no line waits in the client for a window slot
    after it was chosen (the time between choice and sending must stay within
    daemon.line_jitter_s)."""
    if outstanding is None:
        return caps
    return dataclasses.replace(caps, window=min(caps.window or outstanding, outstanding))


async def run_daemon(settings: Settings, stop_signals: Sequence[int] = STOP_SIGNALS) -> None:
    """`dispatch run`: serve until a stop signal (SIGTERM/SIGINT), then drain and return."""
    consumer = consumer_name(settings)
    url = await redis_answers(settings)  # no port, no ready line before Redis answers
    async with open_redis(settings, start=True) as redis, open_script_link(url) as link, \
            open_script_link(url, name="dispatch-reads") as reads:
        await check_redis_config(redis, where(settings, url))
        daemon = await build_daemon(settings, redis, scripts=link, reads=reads)
        keys = Keys(settings.redis.key_prefix)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, daemon, stop_signals)
            nursery.start_soon(purge_forever, redis, keys, settings.retention,
                               settings.enqueue.default_region, consumer)
            ports = await nursery.start(_run_until_done, daemon, nursery.cancel_scope)
            announce(ports, consumer)
            # READY=1: Redis answers, every gateway tried (False: stopped before).
            if await daemon.lifecycle.ready():
                log.info("dispatch daemon %s ready: %s, metrics on port %d", consumer,
                         "no inbound port (no gateway posts back)" if ports.inbound is None
                         else f"receipts on port {ports.inbound}", ports.metrics)


async def redis_answers(settings: Settings) -> str:
    """The Redis URL (the embedded server started if it is the one), once Redis answers
    a PING. Until then, why not is logged and given to systemd as the unit's STATUS: a
    daemon (or a supervisor) says nothing is ready while its Redis is not there."""
    url = await resolve_url(settings, start=True)
    await wait_for_redis(settings, url, report=_waiting)
    return url


async def check_redis_config(redis: Redis, place: str) -> None:
    """Say, once at start, if Redis may evict keys (queued messages and opt-outs would be
    lost without a trace) or if its settings cannot be read; never stops the daemon."""
    try:
        config = await server_config(redis)
    except ConfigUnreadable as exc:
        log.info("could not check the Redis settings (CONFIG GET maxmemory-policy "
                 "appendonly): %s (%s)", exc, place)
        return
    if config.evicts:
        log.warning("Redis evicts keys under memory pressure (maxmemory-policy %s): queued "
                    "messages and opt-outs can be lost; set `maxmemory-policy noeviction` "
                    "in redis.conf (%s)", config.maxmemory_policy, place)
    # Nothing at INFO when all is well: a start that then fails stays one line on stderr.
    log.debug("Redis settings: maxmemory-policy %s, appendonly %s (%s)",
              config.maxmemory_policy, config.appendonly, place)


def _waiting(reason: str) -> None:
    sd_notify(f"STATUS={reason}")
    log.warning("%s", reason)


async def _run_until_done(daemon: Daemon, others: trio.CancelScope, *,
                          task_status: trio.TaskStatus[Ports] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """Run the daemon; when it has drained, stop the tasks beside it (signal watching)."""
    try:
        await daemon.run(task_status=task_status)
    finally:
        others.cancel()


async def build_daemon(settings: Settings, redis: Redis, *, scripts: ScriptHost | None = None,
                       reads: CommandLink | None = None, answers: bool = True) -> Daemon:
    """Everything the daemon runs. `scripts`, `reads`: the daemon's own Redis links (None:
    coredis); `answers`: answer HELP and confirm opt-outs (settings.answers)."""
    config = settings.daemon
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, consumer_name(settings), scripts=scripts, reads=reads,
                  receipt_timeout_h=config.receipt_timeout_h,
                  orphan_cap=config.orphan_receipt_cap,
                  replication=Replication(settings.redis.replicas,
                                          settings.redis.replica_timeout_ms))
    book = CampaignBook(MetaStore(redis, keys), senders(settings), pool_gateways(settings))
    metrics = DaemonMetrics()
    tracker, retrier = Tracker(), Retrier()
    waiter = WindowWaiter[Message](WAITER_CAPACITY, group=window_group)
    check = SharedOptOutCheck(optout_check(queue.optouts, metrics))
    calls = CallBook(queue, book, tracker, waiter, retrier, metrics, config.call_timeout_s,
                     CallCounts(redis, keys))
    metrics.calls_in_progress.set_function(calls.__len__)
    cap = CapGuard(CallCap(scripts or redis, keys, queue.optouts), metrics)
    sending = Sending(book, retrier, waiter,
                      RetryPolicy(config.max_attempts, config.retry_base_s, config.retry_max_s),
                      check, InFlightNumbers(), calls, cap)
    replies = ReplyHandler(queue, lambda: list(book.campaigns), sending.submitting,
                           texts=answer_texts(settings.answers if answers else None),
                           identity_of=book.identity_of, recent=check.recent)
    inbox = Inbox(queue, metrics, config.record_batch_size, replies, calls,
                  gateway_of=book.gateway_of)
    answerer = (Answerer(queue.answers, queue.optouts.secret, settings.answers, metrics)
                if answers else None)
    lifecycle = Lifecycle(RedisWatch(redis, where(settings, settings.redis.url)), metrics,
                          book, tracker)
    serving = await _serving(settings, metrics, inbox, [inbox.run, check.run, lifecycle.run,
                                                        *_monitors(settings, redis, metrics)],
                             answerer, lifecycle)
    pipeline = _pipeline(settings, queue, book, metrics, serving.gateways, sending, tracker,
                         LineLeases(redis, keys),
                         WindowWaiting(redis, keys, consumer_name(settings)))
    return Daemon(serving, pipeline, metrics, config.shutdown_grace_s, lifecycle)


def _monitors(settings: Settings, redis: Redis, metrics: DaemonMetrics) -> list[Task]:
    """The event loop's lag; the campaign series, from the one daemon that exports them."""
    refresher = CampaignGaugeRefresher(
        CampaignGauges(redis, Keys(settings.redis.key_prefix)), metrics)
    return [metrics.measure_event_loop,
            *([refresher.run] if settings.daemon.campaign_metrics else [])]


async def _serving(settings: Settings, metrics: DaemonMetrics, inbox: Inbox,
                   workers: Sequence[Task], answerer: Answerer | None, lifecycle: Lifecycle
                   ) -> Serving:
    """The listeners (their ports known first: the callback URL holds the inbound one), the
    gateways, and what the inbound port routes to them."""
    config = settings.daemon
    inbound = await _inbound_listeners(settings)
    try:
        scrapes = await open_listeners(config.metrics_port, config.metrics_host,
                                       "metrics", "daemon.metrics_port")
    except BaseException:
        for listener in inbound:
            await listener.aclose()
        raise
    callbacks = callback_urls(settings, bound_port(inbound) if inbound else None)
    try:
        gateways = build_gateways(settings, callbacks)
    except BaseException:  # a gateway's configuration refused: nothing stays open
        for listener in (*inbound, *scrapes):
            await listener.aclose()
        raise
    auth = inbound_auth(settings, gateways, callbacks, inbox, metrics)
    routes = authenticated(gateway_routes(gateways.values(), inbox), auth)
    lifecycle.watch(gateways)
    metrics.watch_gateways(gateways.values())
    handler = inbound_handler(routes, lifecycle.healthz_brief,
                              gateway_get_paths(gateways.values(), inbox))
    return Serving(Endpoint(handler, inbound, inbound_limits(settings)) if inbound else None,
                   Endpoint(lifecycle.with_healthz(metrics.handle), scrapes),
                   gateways, inbox, workers,
                   None if answerer is None else partial(answerer.run, gateways))


async def _inbound_listeners(settings: Settings) -> list[trio.SocketListener]:
    """The inbound port's listeners; none when no gateway posts back (SMPP only): a port
    nobody needs is one more way in."""
    if not serves_inbound(settings):
        return []
    config = settings.daemon
    return await open_listeners(config.inbound_port, config.inbound_host,
                                "receipts and replies", "daemon.inbound_port")


def _pipeline(settings: Settings, queue: Queue, book: CampaignBook, metrics: DaemonMetrics,
              gateways: Mapping[str, Gateway], sending: Sending, tracker: Tracker,
              leases: LineLeases, waiting: WindowWaiting) -> Pipeline:
    config = settings.daemon
    feeds = {name: LineFeed(name, plan, leases, queue.consumer, gateways[name].parts)
             for name, plan in line_plans(settings, gateways).items()}
    for feed in feeds.values():
        metrics.watch_lines(feed.gateway, feed.scheduler, feed.pools)
    channels = {name: trio.open_memory_channel[Message](config.batch_size * 2)
                for name in gateways}
    outlets = {name: Outlet(book, send, feeds.get(name)) for name, (send, _) in channels.items()}
    outcomes, recorded = trio.open_memory_channel[tuple[str, Outcome]](
        config.record_batch_size * 4)
    with outcomes:  # closed once every sender and line feed holds a clone of its own
        senders = [task for name, (_, receive) in channels.items()
                   for task in _senders(gateways[name], sending, metrics, receive, outcomes,
                                        feeds.get(name))]
        beside: list[Task] = [partial(sending.retrier.run, outlets),
                              partial(forward_released, sending.waiter, outlets, book),
                              ReceiptSweeper(queue, metrics).run,
                              WaitingPublisher(sending.waiter, waiting, metrics).run,
                              *([sending.calls.run] if sending.calls is not None else []),
                              *[partial(feed.follow, book, outcomes.clone())
                                for feed in feeds.values()]]
    lines = list(feeds.values())
    # Waiting, not busy: messages outside their window or waiting to be called again, in
    # paused campaigns or sending parts spaced out, calls in progress, and submissions
    # waiting for a lagging answer (or its deadline).
    calls = sending.calls
    pressure = Backpressure(
        waiting=lambda: (len(sending.waiter) + not_busy(lines) + len(sending.lagging)
                         + (len(calls) if calls is not None else 0)),
        room=partial(room, lines))
    stopping = trio.Event()
    reader = Reader(queue, book, outlets, tracker, metrics, config, stopping=stopping,
                    pressure=pressure)
    recorder = Recorder(queue, tracker, metrics, config)
    return Pipeline(reader, outlets, lines, senders, partial(recorder.run, recorded), beside,
                    stopping, tracker, sending.waiter)


def _senders(gateway: Gateway, sending: Sending, metrics: DaemonMetrics,
             receive: trio.MemoryReceiveChannel[Message],
             outcomes: trio.MemorySendChannel[tuple[str, Outcome]], lines: LineFeed | None
             ) -> list[Task]:
    """`concurrency` senders on the gateway's channel, and as many on its lines (idle
    unless campaigns of both kinds are running)."""
    tasks: list[Task] = []
    counts = metrics.gateway(gateway.name)
    with receive:  # closed once every sender holds a clone of its own
        for _ in range(gateway.concurrency):
            tasks.append(partial(Sender(gateway, sending, counts, outcomes.clone()).run,
                                 receive.clone()))
            if lines is not None:
                tasks.append(partial(Sender(gateway, sending, counts, outcomes.clone())
                                     .run_lines, lines))
    return tasks
