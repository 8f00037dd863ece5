"""Can a gateway be reached, as its adapter last saw it: what `/healthz`, the unit's
STATUS= line and the READY=1 report say of each gateway.

SMPP knows it from its binds (bound or not, and why the last attempt failed); HTTP and
voice gateways only from their requests: any HTTP answer (429 and 503 included) means
reachable, a request that got none (refused, timed out, reset) means unreachable, and
before the first request nothing is known (`up` is None, which is not a failure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import trio

ERROR_CHARS = 200  # a reason is one short line, never a request body


@dataclass(frozen=True)
class GatewayHealth:
    up: bool | None  # None: not known yet (no request made)
    state: str  # "bound" | "unbound" (SMPP); "reachable" | "unreachable" | "unknown"
    last_error: str | None = None  # why it was last unreachable (kept after recovery)
    last_error_at: float | None = None  # when, as time.time()
    binds_bound: int | None = None  # SMPP: submitting binds up ...
    binds_total: int | None = None  # ... of those configured

    @property
    def failed(self) -> bool:
        """Known to be down (unknown is not down)."""
        return self.up is False

    def as_json(self) -> dict[str, object]:
        report: dict[str, object] = {"up": self.up, "state": self.state,
                                     "last_error": self.last_error}
        report["last_error_age_s"] = (None if self.last_error_at is None
                                      else round(max(0.0, time.time() - self.last_error_at), 1))
        if self.binds_total is not None:
            report["binds_bound"] = self.binds_bound
            report["binds_total"] = self.binds_total
        return report


def one_line(reason: str) -> str:
    """`reason` on one short line (STATUS= and JSON carry it)."""
    flat = " ".join(reason.split())
    return flat if len(flat) <= ERROR_CHARS else flat[:ERROR_CHARS - 1] + "…"


class Reachability:
    """An HTTP-like gateway's view: the outcome of its last request."""

    def __init__(self) -> None:
        self.up: bool | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def answered(self) -> None:
        self.up = True

    def failed(self, reason: str) -> None:
        self.up = False
        self.last_error = one_line(reason)
        self.last_error_at = time.time()

    def health(self) -> GatewayHealth:
        state = {None: "unknown", True: "reachable", False: "unreachable"}[self.up]
        return GatewayHealth(self.up, state, self.last_error, self.last_error_at)


PROBE_LIMIT_S = 5.0  # a gateway that does not answer the probe this soon is reported down


async def probe(client: httpx.AsyncClient, reachability: Reachability, timeout_s: float
                ) -> None:
    """One GET of the gateway's base URL, so that the daemon says at start whether an
    HTTP gateway can be reached: any HTTP answer (a 404 included) is reachable. Bounded
    by `timeout_s` (at most PROBE_LIMIT_S); never raises."""
    try:
        with trio.fail_after(min(timeout_s, PROBE_LIMIT_S)):
            await client.get("/")
    except trio.TooSlowError:
        reachability.failed("no answer to a probe in time")
    except httpx.HTTPError as exc:
        reachability.failed(f"unreachable: {describe(exc)}")
    else:
        reachability.answered()


async def run_probed(client: httpx.AsyncClient, reachability: Reachability, timeout_s: float,
                     task_status: trio.TaskStatus[None]) -> None:
    """`run` of a gateway with nothing in the background (its provider calls the daemon
    back): started once a probe said whether it answers, then idle until cancelled."""
    await probe(client, reachability, timeout_s)
    task_status.started()
    await trio.sleep_forever()


def describe(exc: BaseException) -> str:
    """A transport failure in a few words: its kind, and the OS's reason when it has one."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return f"{type(exc).__name__} ({cause.strerror.lower()})"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__
