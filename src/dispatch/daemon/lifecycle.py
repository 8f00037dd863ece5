"""What the daemon tells systemd and its health checks, and when: the truthful lifecycle.

    start ── Redis answers (app.redis_answers: STATUS= says why it waits, no READY);
             its eviction policy is checked, a policy that may drop keys warned about
             (app.check_redis_config)
          ── listeners open, every gateway started (SMPP: each submitting bind tried;
             HTTP, voice: one probe request answered or not)
          ── Redis still answers the daemon's client (else STATUS= says so and READY=1
             waits for it; never after STOPPING=1)
          ── READY=1 with a STATUS= naming any gateway that could not be reached: it is
             also logged, and the daemon sends through the others (a gateway that comes
             back later is used again; holding READY for it would have systemd restart
             the whole daemon over one operator's outage)
    run   ── WATCHDOG=1 every WATCHDOG_USEC / 2 from the event loop (nothing when systemd
             set no watchdog for this process: WATCHDOG_PID another's; unset, ours)
          ── STATUS= every STATUS_S: "sending 1,234 msg/s, 3 campaigns, queue 120,000",
             then "; Redis ..." and "; gateway ..." when something is down
    stop  ── STOPPING=1 on the stop signal, before draining; STATUS= the messages in hand

Redis is PINGed every REDIS_CHECK_S; its loss and its return are logged once each, and
shown in STATUS= and /healthz. The watchdog is kept petted while Redis is down: a restart
cannot bring Redis back, and killing the daemon would throw away the outcomes it holds
(messages the gateways accepted, not yet recorded), which would be sent again after the
restart; a restarted daemon would then wait for Redis before READY and, past
TimeoutStartSec, be restarted again until systemd's start limit leaves the unit failed
for good. The watchdog watches the daemon itself: an event loop that stops running.

/healthz (metrics port): 200 when Redis answered its last PING and no gateway is known
to be down, else 503; a JSON body with the detail. The inbound port's /healthz, which
gateways and a public proxy may reach, gives the same status code and only {"ok": ...}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.notify import one_line, sd_notify, watchdog_s
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.resilience import REDIS_BACK
from dispatch.errors import RedisUnavailableError
from dispatch.gateways.base import Gateway
from dispatch.gateways.health import GatewayHealth
from dispatch.httpserver import Handler, Request, Response, json_response
from dispatch.model import ACTIVE
from dispatch.store.redis import REDIS_ERRORS, Redis, ping

log = logging.getLogger(__name__)

REDIS_CHECK_S = 2.0  # Redis is PINGed this often (each PING bounded: store.redis.ping)
# ... and this often while it does not answer: its return wakes every task waiting it out
# (resilience.REDIS_BACK), so this bounds how long a daemon stays idle after an outage.
REDIS_DOWN_CHECK_S = 0.25
STATUS_S = 5.0  # the STATUS= line is updated this often
PROBLEMS_SEPARATOR = " | "


class RedisWatch:
    """Does Redis answer the daemon's client? One PING every REDIS_CHECK_S."""

    def __init__(self, redis: Redis, place: str) -> None:
        self._redis = redis
        self._place = place  # where it is, for messages (never a password)
        self.last_ok: float | None = None  # trio time of the last answered PING
        self.down_since: float | None = None  # trio time of the first unanswered one
        self.last_error: str | None = None
        self._answering = trio.Event()  # set while its last PING was answered

    @property
    def healthy(self) -> bool:
        return self.last_ok is not None and self.down_since is None

    async def answers(self) -> None:
        """Return once Redis answered the latest PING (at once if it did)."""
        await self._answering.wait()

    async def run(self) -> None:
        while True:
            await self.check()
            await trio.sleep(REDIS_CHECK_S if self.down_since is None else REDIS_DOWN_CHECK_S)

    async def check(self) -> None:
        try:
            await ping(self._redis, self._place)
        except RedisUnavailableError as exc:
            self._failed(str(exc))
        except REDIS_ERRORS as exc:  # it answered, with an error (LOADING, say)
            self._failed(f"Redis answers with an error: {type(exc).__name__}: {exc} "
                         f"({self._place})")
        else:
            self._answered()

    def _answered(self) -> None:
        now = trio.current_time()
        if self.down_since is not None:
            log.info("Redis answers again, after %.0f s without (%s)",
                     now - self.down_since, self._place)
            self.down_since = None
            REDIS_BACK.answered()
        self.last_ok = now
        self._answering.set()

    def _failed(self, reason: str) -> None:
        self.last_error = one_line(reason)
        if self._answering.is_set():
            self._answering = trio.Event()
        if self.down_since is None:
            self.down_since = trio.current_time()
            log.warning("%s; the messages in hand wait for it", self.last_error)

    def problem(self) -> str | None:
        """What STATUS= says of Redis when it is down."""
        if self.down_since is None:
            return None
        down_s = trio.current_time() - self.down_since
        return f"{self.last_error}, for {down_s:.0f} s"

    def as_json(self) -> dict[str, object]:
        now = trio.current_time()
        return {"ok": self.healthy,
                "last_ping_ok_age_s": (None if self.last_ok is None
                                       else round(now - self.last_ok, 1)),
                "down_for_s": (None if self.down_since is None
                               else round(now - self.down_since, 1)),
                "last_error": self.last_error}


@dataclass
class Rate:
    """Messages submitted per second, from the submission counters between two looks."""

    count: Callable[[], float]
    _last: tuple[float, float] | None = field(default=None)

    def sample(self) -> float:
        now, count = trio.current_time(), self.count()
        last, self._last = self._last, (now, count)
        if last is None or now <= last[0]:
            return 0.0
        return max(0.0, (count - last[1]) / (now - last[0]))


@dataclass(frozen=True)
class Figures:
    """What a STATUS= line says; a worker sends them to its supervisor as X_DISPATCH_*."""

    rate: float
    campaigns: int
    queue: int
    problems: tuple[str, ...] = ()

    def status(self) -> str:
        campaigns = f"{self.campaigns:,} campaign" + ("" if self.campaigns == 1 else "s")
        line = f"sending {self.rate:,.0f} msg/s, {campaigns}, queue {self.queue:,}"
        return one_line("; ".join((line, *self.problems)))

    def fields(self) -> str:
        """The figures as assignments of their own (X_: names systemd leaves alone)."""
        return (f"X_DISPATCH_RATE={self.rate:.1f}\nX_DISPATCH_CAMPAIGNS={self.campaigns}\n"
                f"X_DISPATCH_QUEUE={self.queue}\n"
                f"X_DISPATCH_PROBLEMS={one_line(PROBLEMS_SEPARATOR.join(self.problems))}")

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Figures | None:
        """What `fields` sent (None: a notification without them)."""
        try:
            rate = float(fields["X_DISPATCH_RATE"])
            campaigns = int(fields["X_DISPATCH_CAMPAIGNS"])
            queue = int(fields["X_DISPATCH_QUEUE"])
        except (KeyError, ValueError):
            return None
        problems = fields.get("X_DISPATCH_PROBLEMS", "")
        return cls(rate, campaigns, queue,
                   tuple(problems.split(PROBLEMS_SEPARATOR)) if problems else ())


class Lifecycle:
    """READY, WATCHDOG, STATUS, STOPPING and /healthz of one daemon process."""

    def __init__(self, redis: RedisWatch, metrics: DaemonMetrics, book: CampaignBook,
                 tracker: Tracker) -> None:
        self.redis = redis
        self._metrics = metrics
        metrics.redis_up.set_function(lambda: 1.0 if redis.healthy else 0.0)
        self._book = book
        self._tracker = tracker
        self._gateways: Mapping[str, Gateway] = {}
        self._rate = Rate(self._submitted)
        self._ready = trio.Event()
        self._stopping = False

    def watch(self, gateways: Mapping[str, Gateway]) -> None:
        self._gateways = gateways

    async def run(self) -> None:
        """Redis's PINGs, the STATUS= updates and the watchdog, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.redis.run)
            nursery.start_soon(self._report_status)
            interval = watchdog_s()
            if interval is not None:
                nursery.start_soon(self._pet_watchdog, interval)

    async def ready(self) -> bool:
        """Every gateway has been tried: READY=1, with what could not be reached, once
        Redis answers this daemon's client (`run` PINGs it). False, and no READY=1, when
        the daemon began stopping meanwhile."""
        if self.redis.last_ok is None and self.redis.down_since is None:
            await self.redis.check()  # not PINGed by `run` yet
        if not self.redis.healthy:  # lost since it answered before start: systemd waits
            sd_notify("STATUS=" + one_line("waiting for Redis before saying ready"
                                           + (f": {self.redis.last_error}"
                                              if self.redis.last_error else "")))
            await self.redis.answers()
        if self._stopping:
            return False
        for name, health in self.gateway_health().items():
            if health.failed:
                log.warning("gateway %s cannot be reached at start: %s; sending through "
                            "the other gateways meanwhile, retrying it", name,
                            health.last_error or health.state)
        self._metrics.ready.set(1)
        self._ready.set()
        self._notify("READY=1")
        return True

    def stopping(self) -> None:
        """The stop signal: STOPPING=1 before the daemon drains."""
        self._stopping = True
        self._metrics.ready.set(0)
        sd_notify(f"STOPPING=1\nSTATUS=stopping: finishing {len(self._tracker):,} messages "
                  "in hand")

    def gateway_health(self) -> dict[str, GatewayHealth]:
        return {name: gateway.health() for name, gateway in self._gateways.items()}

    def figures(self) -> Figures:
        queued = self._book.queued
        campaigns = sum(1 for campaign, depth in queued.items()
                        if depth > 0 and self._book.status_of(campaign) == ACTIVE)
        problems = [problem] if (problem := self.redis.problem()) else []
        problems += [f"gateway {name} {health.state}"
                     + (f" ({health.last_error})" if health.last_error else "")
                     for name, health in self.gateway_health().items() if health.failed]
        return Figures(self._rate.sample(), campaigns, sum(queued.values()), tuple(problems))

    @property
    def healthy(self) -> bool:
        return self.redis.healthy and not any(
            health.failed for health in self.gateway_health().values())

    def health_report(self) -> dict[str, object]:
        return {"ok": self.healthy, "ready": self._ready.is_set(),
                "stopping": self._stopping, "redis": self.redis.as_json(),
                "gateways": {name: health.as_json()
                             for name, health in self.gateway_health().items()}}

    async def healthz(self, request: Request) -> Response:
        """The detailed report (the metrics port)."""
        return json_response(self.health_report(), 200 if self.healthy else 503)

    async def healthz_brief(self, request: Request) -> Response:
        """The inbound port's: the status code, nothing about the inside."""
        healthy = self.healthy
        return json_response({"ok": healthy}, 200 if healthy else 503)

    def with_healthz(self, handler: Handler) -> Handler:
        """`handler`, with GET /healthz answered first."""
        async def handle(request: Request) -> Response:
            if request.path == "/healthz":
                return await self.healthz(request)
            return await handler(request)
        return handle

    def _notify(self, *states: str) -> None:
        figures = self.figures()
        sd_notify("\n".join((*states, f"STATUS={figures.status()}", figures.fields())))

    def _submitted(self) -> float:
        # That one counter's samples: collecting the whole registry would read /proc and
        # every campaign's series at each STATUS= line.
        return sum(sample.value for metric in self._metrics.messages.collect()
                   for sample in metric.samples
                   if sample.name == "dispatch_messages_total"
                   and sample.labels.get("outcome") == "submitted")

    async def _report_status(self) -> None:
        await self._ready.wait()
        while True:
            await trio.sleep(STATUS_S)
            if not self._stopping:
                self._notify()

    async def _pet_watchdog(self, interval_s: float) -> None:
        """WATCHDOG=1 from the event loop: it stops when the loop does."""
        await self._ready.wait()
        while True:
            sd_notify("WATCHDOG=1")
            await trio.sleep(interval_s / 2)
