"""Composition root: the one place where the daemon's parts are built and wired."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Sequence

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.line_feed import LinePlan
from dispatch.daemon.retention import purge_forever
from dispatch.daemon.service import (
    STOP_SIGNALS,
    Daemon,
    GatewayFactory,
    Ports,
    announce,
    watch_signals,
)
from dispatch.gateways.base import Gateway
from dispatch.gateways.http import HttpGateway
from dispatch.gateways.smpp import SmppGateway
from dispatch.keys import Keys
from dispatch.lines.config import GatewayCaps
from dispatch.settings import GatewaySettings, Settings
from dispatch.store.line_leases import LineLeases
from dispatch.store.queue import Queue
from dispatch.store.redis import open_redis, resolve_url
from dispatch.store.script_link import open_script_link

log = logging.getLogger(__name__)


def consumer_name(settings: Settings) -> str:
    return settings.daemon.consumer or socket.gethostname()


def senders(settings: Settings) -> dict[str, str]:
    """The sender identity of each gateway (the line its messages go out from)."""
    return {name: config.sender for name, config in settings.gateways.items()}


def line_plans(settings: Settings) -> dict[str, LinePlan]:
    """The line scheduler of each gateway with pools: its pools and caps."""
    daemon = settings.daemon
    return {name: LinePlan(pools, gateway_caps(settings, name), daemon.line_jitter_s,
                           daemon.line_lease_s)
            for name in settings.gateways if (pools := settings.lines.pools_of(name))}


def gateway_caps(settings: Settings, name: str) -> GatewayCaps:
    """The configured caps; an SMPP gateway's window is at most its binds' windows, so
    that no line waits in the client for a window slot after it was chosen (the time
    between choice and sending must stay within daemon.line_jitter_s)."""
    caps = settings.lines.caps_of(name)
    config = settings.gateways[name]
    if config.type != "smpp":
        return caps
    window = config.binds * config.window
    return dataclasses.replace(caps, window=min(caps.window or window, window))


def pool_gateways(settings: Settings) -> dict[str, str]:
    """The gateway of each pool (the campaign book checks a campaign's pool against it)."""
    return {name: pool.gateway for name, pool in settings.lines.pools.items()}


def gateway_factory(settings: Settings) -> GatewayFactory:
    """The configured gateways; HTTP ones are told where to post receipts."""
    def make(callback_url: str) -> dict[str, Gateway]:
        return {name: _gateway(name, config, callback_url)
                for name, config in settings.gateways.items()}
    return make


def _gateway(name: str, config: GatewaySettings, callback_url: str) -> Gateway:
    if config.type == "smpp":
        return SmppGateway(name, config)
    return HttpGateway(name, config, callback_url)


async def run_daemon(settings: Settings, stop_signals: Sequence[int] = STOP_SIGNALS) -> None:
    """`dispatch run`: serve until a stop signal (SIGTERM/SIGINT), then drain and return."""
    consumer = consumer_name(settings)
    url = await resolve_url(settings)
    async with open_redis(settings) as redis, open_script_link(url) as link, \
            open_script_link(url, name="dispatch-reads") as reads:
        keys = Keys(settings.redis.key_prefix)
        queue = Queue(redis, keys, consumer, receipt_timeout_h=settings.daemon.receipt_timeout_h,
                      scripts=link, reads=reads)
        book = CampaignBook(redis, keys, senders(settings), pool_gateways(settings))
        daemon = Daemon(settings.daemon, queue, book, gateway_factory(settings),
                        answers=settings.answers, lines=line_plans(settings),
                        line_leases=LineLeases(redis, keys))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, daemon, stop_signals)
            nursery.start_soon(purge_forever, redis, keys, settings.retention,
                               settings.enqueue.default_region)
            ports = await nursery.start(_run_until_done, daemon, nursery.cancel_scope)
            announce(ports, consumer)
            log.info("dispatch daemon %s ready: receipts on port %d, metrics on port %d",
                     consumer, ports.inbound, ports.metrics)


async def _run_until_done(daemon: Daemon, others: trio.CancelScope, *,
                          task_status: trio.TaskStatus[Ports] = trio.TASK_STATUS_IGNORED
                          ) -> None:
    """Run the daemon; when it has drained, stop the tasks beside it (signal watching)."""
    try:
        await daemon.run(task_status=task_status)
    finally:
        others.cancel()
