"""What a daemon tells systemd and its health checks (dispatch.daemon.lifecycle), and what
the `--processes` supervisor relays of its workers (dispatch.worker_notify): every
notification is captured on a datagram socket of the test's own, bound as NOTIFY_SOCKET.
Redis is real: the session's, or one of the test's own that it stops and starts."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import coredis
import pytest
import trio
import trio.testing

from dispatch import worker_notify
from dispatch.daemon import lifecycle as lifecycle_module
from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.lifecycle import STATUS_S, Figures, Lifecycle, RedisWatch
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.notify import fields, watchdog_s
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.gateways.health import GatewayHealth
from dispatch.httpserver import Request, Response, json_response
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.redis import Redis
from dispatch.worker_notify import Relay, open_relay
from tests.e2e.harness import free_port
from tests.redis_server import start_redis, stop_redis

TIMEOUT_S = 30  # real time: a redis-server of the test's own starts within it
PLACE = "the test's Redis"
REACHABLE = GatewayHealth(True, "reachable")
UNKNOWN = GatewayHealth(None, "unknown")
DOWN = GatewayHealth(False, "unreachable", "unreachable: ConnectError (connection refused)")


class Notices:
    """What was sent to NOTIFY_SOCKET: each datagram's assignments, with the trio time it
    arrived."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self._sock = sock
        self.received: list[tuple[float, dict[str, str]]] = []
        self._arrived = trio.Event()

    async def collect(self) -> None:
        while True:
            datagram = await self._sock.recv(4096)
            self.received.append((trio.current_time(), fields(datagram)))
            self._arrived.set()
            self._arrived = trio.Event()

    def values(self, name: str) -> list[str]:
        return [said[name] for _, said in self.received if name in said]

    def times(self, name: str) -> list[float]:
        return [at for at, said in self.received if said.get(name) == "1"]

    async def until(self, name: str, value: str | None = None) -> dict[str, str]:
        """The first notification holding `name` (= `value`), once it came."""
        while True:
            for _, said in self.received:
                if name in said and value in (None, said[name]):
                    return said
            await self._arrived.wait()


@pytest.fixture
def patient_clock() -> trio.testing.MockClock:
    """The autojump clock for tests whose tasks talk to a real Redis: it jumps only once
    the loop was idle for 20 ms of real time. At 0 it jumps whenever every task waits,
    a PING's reply still on its way included, so a PING's own deadline could pass before
    its reply came; failed PINGs, retried every REDIS_DOWN_CHECK_S, then ran the clock
    past the test's deadline (1 run in 6)."""
    return trio.testing.MockClock(autojump_threshold=0.02)


@pytest.fixture
async def notices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Notices]:
    path = tmp_path / "notify.sock"
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    with trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_DGRAM) as sock:
        await sock.bind(str(path))
        heard = Notices(sock)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heard.collect)
            yield heard
            nursery.cancel_scope.cancel()


class FakeGateway:
    """Only what the lifecycle asks of a gateway: its name and health."""

    def __init__(self, name: str, health: GatewayHealth) -> None:
        self.name = name
        self.state = health

    def health(self) -> GatewayHealth:
        return self.state


def lifecycle_of(client: Redis, metrics: DaemonMetrics | None = None,
                 **gateways: GatewayHealth) -> Lifecycle:
    book = CampaignBook(MetaStore(client, Keys("lifecycle")), {})
    life = Lifecycle(RedisWatch(client, PLACE), metrics or DaemonMetrics(), book, Tracker())
    fakes: dict[str, Any] = {name: FakeGateway(name, health)
                             for name, health in gateways.items()}
    life.watch(fakes)
    return life


@asynccontextmanager
async def client_at(port: int) -> AsyncIterator[Redis]:
    """A client of 127.0.0.1:`port`, whether or not a Redis answers there yet."""
    client: Any = coredis.Redis.from_url(f"redis://127.0.0.1:{port}", decode_responses=False)
    async with client:
        yield client


@asynccontextmanager
async def running(life: Lifecycle) -> AsyncIterator[None]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(life.run)
        yield
        nursery.cancel_scope.cancel()


def get(path: str) -> Request:
    return Request("GET", path, "", {}, b"")


def body(response: Response) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(response.body)
    return report


# READY=1 and STATUS=.

async def test_ready_is_not_sent_while_redis_does_not_answer_and_is_once_it_does(
        notices: Notices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle_module, "REDIS_CHECK_S", 0.05)
    port = free_port()
    with trio.fail_after(TIMEOUT_S):
        async with client_at(port) as client, running(life := lifecycle_of(
                client, sms=REACHABLE)), trio.open_nursery() as nursery:
            nursery.start_soon(life.ready)
            waiting = await notices.until("STATUS")
            assert waiting["STATUS"] == ("waiting for Redis before saying ready: no answer "
                                         f"from Redis: connection refused ({PLACE})")
            await trio.sleep(0.3)  # several PINGs go unanswered meanwhile
            assert notices.values("READY") == []
            assert not life.health_report()["ready"]
            redis = await start_redis(tmp_path, port)
            try:
                ready = await notices.until("READY", "1")
            finally:
                await stop_redis(redis)
    assert ready["STATUS"] == "sending 0 msg/s, 0 campaigns, queue 0"
    assert ready["X_DISPATCH_QUEUE"] == "0"
    assert notices.values("READY") == ["1"]


async def test_ready_names_a_gateway_that_cannot_be_reached(
        redis: Redis, notices: Notices, caplog: pytest.LogCaptureFixture) -> None:
    life = lifecycle_of(redis, sms=REACHABLE, voice=DOWN)
    with trio.fail_after(TIMEOUT_S):
        async with running(life):
            assert await life.ready()
            ready = await notices.until("READY", "1")
    assert ready["STATUS"] == ("sending 0 msg/s, 0 campaigns, queue 0; gateway voice "
                               "unreachable (unreachable: ConnectError (connection refused))")
    assert ready["X_DISPATCH_PROBLEMS"] == ("gateway voice unreachable (unreachable: "
                                            "ConnectError (connection refused))")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("gateway voice cannot be reached at start")


async def test_status_tells_the_rate_campaigns_and_queue_every_status_s(
        redis: Redis, notices: Notices, patient_clock: trio.testing.MockClock) -> None:
    metrics = DaemonMetrics()
    life = lifecycle_of(redis, metrics, sms=REACHABLE)
    with trio.fail_after(STATUS_S * 10):
        async with running(life):
            await life.ready()
            ready_at = trio.current_time()
            metrics.gateway("sms").submitted.inc(50)
            life._book.queued["c1"] = 1_200  # an active campaign, as a refresh finds it
            await trio.sleep(STATUS_S * 2.5)
    updates = [(round(at - ready_at, 3), said["STATUS"]) for at, said in notices.received
               if "READY" not in said]
    assert updates == [(STATUS_S, "sending 10 msg/s, 1 campaign, queue 1,200"),
                       (STATUS_S * 2, "sending 0 msg/s, 1 campaign, queue 1,200")]


async def test_stopping_is_sent_on_stop_and_ready_never_after_it(
        redis: Redis, notices: Notices) -> None:
    life = lifecycle_of(redis, sms=REACHABLE)
    with trio.fail_after(TIMEOUT_S):
        life.stopping()
        stopping = await notices.until("STOPPING", "1")
        assert not await life.ready()  # the stop came first: systemd is not told READY
    assert stopping["STATUS"] == "stopping: finishing 0 messages in hand"
    assert notices.values("READY") == []
    assert body(await life.healthz(get("/healthz")))["stopping"] is True


async def test_a_daemon_says_ready_then_stopping_when_it_stops(
        redis: Redis, settings: Settings, notices: Notices,
        simulator: tuple[object, int]) -> None:
    from tests.daemon.conftest import daemon_for

    daemon = await daemon_for(redis, settings, simulator[1])
    with trio.fail_after(TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            assert await daemon.lifecycle.ready()
            daemon.stop()
    assert [name for _, said in notices.received for name in ("READY", "STOPPING")
            if said.get(name) == "1"] == ["READY", "STOPPING"]


# WATCHDOG=1.

async def test_watchdog_pings_at_half_watchdog_usec_from_ready_on(
        redis: Redis, notices: Notices, monkeypatch: pytest.MonkeyPatch,
        patient_clock: trio.testing.MockClock) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    life = lifecycle_of(redis, sms=REACHABLE)
    with trio.fail_after(100):
        async with running(life):
            await trio.sleep(4)  # none before READY
            assert notices.times("WATCHDOG") == []
            await life.ready()
            ready_at = trio.current_time()
            await trio.sleep(10)
    assert [round(at - ready_at, 3) for at in notices.times("WATCHDOG")] == [
        0, 1.5, 3, 4.5, 6, 7.5, 9]


@pytest.mark.parametrize("environ", [{}, {"WATCHDOG_USEC": "3000000"}],
                         ids=["no WATCHDOG_USEC", "WATCHDOG_PID another process"])
async def test_no_watchdog_ping_when_systemd_set_none_for_this_process(
        redis: Redis, notices: Notices, monkeypatch: pytest.MonkeyPatch,
        patient_clock: trio.testing.MockClock, environ: dict[str, str]) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if environ:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getppid()))
    life = lifecycle_of(redis, sms=REACHABLE)
    with trio.fail_after(100):
        async with running(life):
            await life.ready()
            await trio.sleep(STATUS_S * 2.5)
    assert notices.values("READY") == ["1"]
    assert len(notices.values("STATUS")) == 3  # READY's, then two updates: it runs
    assert notices.times("WATCHDOG") == []


def test_the_watchdog_interval_is_systemds_for_this_process_only() -> None:
    me, other = str(os.getpid()), str(os.getppid())
    assert watchdog_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": me}) == 2.0
    # Unset WATCHDOG_PID: meant for this process (sd_watchdog_enabled's rule).
    assert watchdog_s({"WATCHDOG_USEC": "2000000"}) == 2.0
    assert watchdog_s({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": other}) is None
    assert watchdog_s({}) is None
    assert watchdog_s({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_s({"WATCHDOG_USEC": "0"}) is None


# Redis lost and back, and /healthz.

async def test_redis_lost_is_told_and_its_return_too(
        notices: Notices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(lifecycle_module, "REDIS_CHECK_S", 0.05)
    caplog.set_level(logging.INFO, lifecycle_module.__name__)
    port = free_port()
    metrics = DaemonMetrics()
    redis_up: list[float | None] = []
    with trio.fail_after(TIMEOUT_S):
        redis = await start_redis(tmp_path, port)
        try:
            async with client_at(port) as client, running(life := lifecycle_of(
                    client, metrics, sms=REACHABLE)):
                assert await life.ready()
                redis_up.append(metrics.registry.get_sample_value("dispatch_redis_up"))
                await stop_redis(redis)
                while life.redis.healthy:
                    await trio.sleep(0.05)
                lost = life.figures().problems
                report = await life.healthz(get("/healthz"))
                redis_up.append(metrics.registry.get_sample_value("dispatch_redis_up"))
                redis = await start_redis(tmp_path, port)
                while not life.redis.healthy:
                    await trio.sleep(0.05)
                back = await life.healthz(get("/healthz"))
                redis_up.append(metrics.registry.get_sample_value("dispatch_redis_up"))
        finally:
            await stop_redis(redis)
    assert redis_up == [1.0, 0.0, 1.0]
    assert len(lost) == 1 and lost[0].startswith("no answer from Redis: ")
    assert report.status == 503 and body(report)["redis"]["ok"] is False
    assert back.status == 200 and body(back)["redis"]["down_for_s"] is None
    told = [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == lifecycle_module.__name__]
    assert [level for level, _ in told] == ["WARNING", "INFO"]  # each once
    assert told[0][1].endswith("; the messages in hand wait for it")
    assert told[1][1].startswith("Redis answers again, after ")


async def test_healthz_is_200_when_redis_answers_and_no_gateway_is_down(
        redis: Redis) -> None:
    life = lifecycle_of(redis, sms=REACHABLE, voice=UNKNOWN)  # unknown: not down
    with trio.fail_after(TIMEOUT_S):
        await life.redis.check()
        detailed = await life.healthz(get("/healthz"))
        brief = await life.healthz_brief(get("/healthz"))
    report = body(detailed)
    assert detailed.status == 200 and report["ok"] is True
    assert report["redis"]["ok"] is True and report["redis"]["last_error"] is None
    assert report["gateways"]["sms"]["state"] == "reachable"
    assert report["gateways"]["voice"]["up"] is None
    assert (brief.status, body(brief)) == (200, {"ok": True})


async def test_healthz_is_503_naming_redis_when_it_does_not_answer() -> None:
    with trio.fail_after(TIMEOUT_S):
        async with client_at(free_port()) as client:
            life = lifecycle_of(client, sms=REACHABLE)
            await life.redis.check()
            detailed = await life.healthz(get("/healthz"))
            brief = await life.healthz_brief(get("/healthz"))
    report = body(detailed)
    assert detailed.status == 503 and report["ok"] is False
    assert report["redis"]["ok"] is False
    assert report["redis"]["last_error"] == (
        f"no answer from Redis: connection refused ({PLACE})")
    assert report["gateways"]["sms"]["up"] is True
    assert (brief.status, body(brief)) == (503, {"ok": False})  # nothing of the inside


async def test_healthz_is_503_naming_a_gateway_that_is_down(redis: Redis) -> None:
    life = lifecycle_of(redis, sms=REACHABLE, voice=DOWN)
    with trio.fail_after(TIMEOUT_S):
        await life.redis.check()
        detailed = await life.healthz(get("/healthz"))
        brief = await life.healthz_brief(get("/healthz"))
    report = body(detailed)
    assert detailed.status == 503 and report["redis"]["ok"] is True
    assert report["gateways"]["voice"]["up"] is False
    assert report["gateways"]["voice"]["last_error"] == DOWN.last_error
    assert (brief.status, body(brief)) == (503, {"ok": False})


async def test_the_metrics_port_answers_healthz_and_passes_the_rest_on(
        redis: Redis) -> None:
    async def metrics(request: Request) -> Response:
        return json_response({"path": request.path})

    handler = lifecycle_of(redis, sms=REACHABLE).with_healthz(metrics)
    with trio.fail_after(TIMEOUT_S):
        assert "redis" in body(await handler(get("/healthz")))
        assert body(await handler(get("/metrics"))) == {"path": "/metrics"}


# The supervisor's relay (`dispatch run --processes N`).

@asynccontextmanager
async def relay_of(count: int) -> AsyncIterator[Relay]:
    """A relay of `count` workers, running. Under an autojump clock it is opened outside
    the test's deadline: its sockets are bound in a thread, which such a clock would skip
    over straight to the deadline."""
    async with open_relay(count) as relay, trio.open_nursery() as nursery:
        nursery.start_soon(relay.run)
        yield relay
        nursery.cancel_scope.cancel()


def tell(relay: Relay, index: int, *states: str) -> None:
    """Worker `index` notifies its supervisor, as sd_notify does in the worker."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto("\n".join(states).encode(), relay.env(index, {})["NOTIFY_SOCKET"])


async def test_the_relay_says_ready_once_every_worker_said_it(notices: Notices) -> None:
    with trio.fail_after(TIMEOUT_S):
        async with relay_of(2) as relay, trio.open_nursery() as nursery:
            nursery.start_soon(relay.ready)
            tell(relay, 1, "READY=1", Figures(100.0, 2, 5_000).fields())
            while not relay.workers[0].ready:
                await trio.sleep(0.01)
            await trio.sleep(0.1)  # time enough for a wrong READY=1 to arrive
            assert notices.values("READY") == []
            tell(relay, 2, "READY=1", Figures(50.0, 3, 4_000).fields())
            ready = await notices.until("READY", "1")
    assert ready["STATUS"] == "2 workers: sending 150 msg/s, 3 campaigns, queue 5,000"
    assert notices.values("READY") == ["1"]


async def test_the_relay_never_says_ready_for_a_worker_that_has_not(
        notices: Notices, autojump_clock: trio.testing.MockClock) -> None:
    """A worker whose Redis went away after its ready line says READY=1 late, or never:
    the supervisor waits (systemd's TimeoutStartSec judges), it does not guess."""
    async with relay_of(2) as relay:  # outside the deadline: see relay_of
        tell(relay, 1, "READY=1")
        with trio.move_on_after(3600) as waiting:
            await relay.ready()
        assert waiting.cancelled_caught
        tell(relay, 2, "READY=1")
        with trio.fail_after(60):
            await relay.ready()
            await notices.until("READY", "1")
    assert notices.values("READY") == ["1"]


async def test_the_relay_combines_the_workers_status(
        notices: Notices, autojump_clock: trio.testing.MockClock) -> None:
    async with relay_of(2) as relay:  # outside the deadline: see relay_of
        with trio.fail_after(100):
            tell(relay, 1, "READY=1",
                 Figures(100.0, 2, 5_000, ("Redis gone, for 3 s",)).fields())
            tell(relay, 2, "READY=1", Figures(50.0, 3, 4_000).fields())
            await relay.ready()
            ready_at = trio.current_time()
            tell(relay, 2, "STATUS=ignored", Figures(20.0, 3, 3_000,
                                                     ("gateway sms unbound",)).fields())
            await trio.sleep(STATUS_S + 1)
    updates = [(round(at - ready_at, 3), said["STATUS"]) for at, said in notices.received]
    assert updates == [
        (0, "2 workers: sending 150 msg/s, 3 campaigns, queue 5,000; worker 1: Redis gone, "
            "for 3 s"),
        (STATUS_S, "2 workers: sending 120 msg/s, 3 campaigns, queue 5,000; worker 1: "
                   "Redis gone, for 3 s; worker 2: gateway sms unbound")]


async def test_the_relay_says_stopping_once(notices: Notices) -> None:
    with trio.fail_after(TIMEOUT_S):
        async with relay_of(2) as relay:
            relay.stopping("SIGTERM received")
            relay.stopping("worker 1 exited with 0")  # the same stop, told once
            tell(relay, 1, "STOPPING=1")  # a worker's own is not passed on
            stopping = await notices.until("STOPPING", "1")
            await trio.sleep(0.1)  # time enough for a second one to arrive
    assert stopping["STATUS"] == ("stopping (SIGTERM received): 2 workers finishing the "
                                  "messages in hand")
    assert notices.values("STOPPING") == ["1"]


async def test_the_relay_pings_the_watchdog_while_every_worker_does(
        notices: Notices, monkeypatch: pytest.MonkeyPatch,
        autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # no WATCHDOG_PID: this process's
    async with relay_of(2) as relay:  # outside the deadline: see relay_of
        with trio.fail_after(100):
            env = relay.env(1, {"WATCHDOG_PID": "1", "NOTIFY_SOCKET": "/run/systemd/notify"})
            tell(relay, 1, "READY=1")
            tell(relay, 2, "READY=1")
            await relay.ready()
            ready_at = trio.current_time()
            for _ in range(5):  # worker 1 pings each second, worker 2 is silent ...
                await trio.sleep(1)
                tell(relay, 1, "WATCHDOG=1")
            await trio.sleep(0.5)
            tell(relay, 2, "WATCHDOG=1")  # ... until now
            await trio.sleep(0.75)
    assert env["WATCHDOG_USEC"] == "2000000" and "WATCHDOG_PID" not in env
    assert env["NOTIFY_SOCKET"] != "/run/systemd/notify"
    assert [round(at - ready_at, 3) for at in notices.times("WATCHDOG")] == [0, 1, 2, 6]
    told = [(r.levelname, r.getMessage()) for r in caplog.records
            if r.name == worker_notify.__name__]
    assert told == [("ERROR", "worker 2 has not pinged its watchdog for 3 s: the service is "
                              "no longer reported alive to systemd, which will restart it"),
                    ("WARNING", "worker 2 pings its watchdog again")]
