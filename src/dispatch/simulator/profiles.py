"""Named behaviour profiles: sets of knob values, so `--profile realistic` replaces a dozen
flags. A profile only sets defaults: a flag given explicitly wins over it. Pure.

Each applies to both protocols where they have an equivalent knob (SMPP / HTTP):

- `perfect`: no latency, no fault of any kind, every message delivered. For throughput
  benchmarks and tests of the happy path.
- `realistic`: what a good operator gateway looks like: 20 ms (+0..10 ms) response latency,
  1 % throttled (ESME_RTHROTTLED / 429), 0.5 % system errors (ESME_RSYSERR / 5xx), the
  default outcome mix, receipts 1-5 s after acceptance.
- `flaky`: a gateway having a bad day: 30 % throttled, 2 % system errors, 1 % of requests
  never answered (SMPP) or answered 504 after acceptance (HTTP), every SMPP connection
  closed after each 5,000 accepted submit_sm, 5 ms (+0..50 ms) latency.
- `slow`: a public gateway: 200 ms (+0..300 ms) latency, window 10 and 100 submit_sm/s per
  bind, receipts 10-30 s after acceptance.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from dispatch.simulator.config import DEFAULT_OUTCOMES, DELIVERED, SimulatorConfigError

_NO_FAULTS: Final[dict[str, Any]] = {
    "latency_ms": 0.0, "latency_jitter_ms": 0.0, "error_429": 0.0, "error_5xx": 0.0,
    "lost_response": 0.0, "smpp_latency_ms": 0.0, "smpp_latency_jitter_ms": 0.0,
    "throttle_rate": 0.0, "no_response": 0.0, "smpp_error": 0.0,
}

PROFILES: Final = MappingProxyType({
    "perfect": {**_NO_FAULTS, "outcomes": {DELIVERED: 1.0}},
    "realistic": {
        "latency_ms": 20.0, "latency_jitter_ms": 10.0, "smpp_latency_ms": 20.0,
        "smpp_latency_jitter_ms": 10.0, "error_429": 0.01, "throttle_rate": 0.01,
        "error_5xx": 0.005, "smpp_error": 0.005, "outcomes": dict(DEFAULT_OUTCOMES),
        "receipt_delay_ms": 1_000.0, "receipt_jitter_ms": 4_000.0,
    },
    "flaky": {
        "latency_ms": 5.0, "latency_jitter_ms": 50.0, "smpp_latency_ms": 5.0,
        "smpp_latency_jitter_ms": 50.0, "error_429": 0.3, "throttle_rate": 0.3,
        "error_5xx": 0.02, "smpp_error": 0.02, "lost_response": 0.01, "no_response": 0.01,
        "disconnect_every": 5_000,
    },
    "slow": {
        "latency_ms": 200.0, "latency_jitter_ms": 300.0, "smpp_latency_ms": 200.0,
        "smpp_latency_jitter_ms": 300.0, "smpp_window": 10, "smpp_bind_rate": 100.0,
        "receipt_delay_ms": 10_000.0, "receipt_jitter_ms": 20_000.0,
    },
})


def profile_defaults(name: str) -> dict[str, Any]:
    """The knob values of profile `name` (SimulatorConfig field names); a fresh dict."""
    values = PROFILES.get(name)
    if values is None:
        raise SimulatorConfigError(
            f"--profile: unknown profile {name!r} (known: {', '.join(PROFILES)})")
    return {key: dict(value) if isinstance(value, dict) else value
            for key, value in values.items()}
