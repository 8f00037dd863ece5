"""The fuzz tests' Hypothesis profiles, and a count of the inputs each target was fed.

Two profiles, registered here and applied to the fuzz tests alone (never loaded globally,
so the rest of the suite keeps its own settings):

- "ci" (the default): a fixed number of examples per test, derandomized, no example
  database: the same inputs on every run, nothing read from or written to disk;
- "long" (HYPOTHESIS_PROFILE=long): random, FUZZ_LONG_EXAMPLES examples per test weight
  unit (default 1,000), and bursts of 100 mutated inputs per example for the cheap
  targets: over a million inputs in all; set FUZZ_STATS to a path to get the inputs fed
  to each target as JSON at the end.

No deadline in either: the tests never assert wall-clock time (the machine is shared);
inputs are bounded in size instead, so that no input can make a target hang.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from typing import Any, Final, TypeVar

from hypothesis import HealthCheck, Phase, settings

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
CI_EXAMPLES: Final = 200
LONG_EXAMPLES: Final = int(os.environ.get("FUZZ_LONG_EXAMPLES", "1000"))
# Cheap targets also get a burst of inputs derived from each example by seeded random
# mutations (no Hypothesis overhead per input; the seed is drawn, so CI stays fixed).
BURST: Final = 8 if PROFILE == "ci" else 100

# Shared machines and big inputs (a 10 MB field): slowness and size are not the findings.
_QUIET: Final = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, deadline=None,
    suppress_health_check=_QUIET, print_blob=True)
settings.register_profile(
    "long", max_examples=LONG_EXAMPLES, derandomize=False, database=None, deadline=None,
    suppress_health_check=_QUIET, print_blob=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink])

if PROFILE not in ("ci", "long"):
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}: the fuzz tests know ci and long")

# Inputs fed to each target in this process (examples x inputs per example).
INPUTS: Counter[str] = Counter()

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(weight: float = 1.0, ci: int = CI_EXAMPLES) -> Callable[[F], F]:
    """The current profile's settings for one test: `ci` examples in the ci profile,
    `weight` times FUZZ_LONG_EXAMPLES in the long one (a cheap target gets more)."""
    base = settings.get_profile(PROFILE)
    examples = ci if PROFILE == "ci" else max(10, int(base.max_examples * weight))
    chosen = settings(base, max_examples=examples)

    def apply(test: F) -> F:
        return chosen(test)
    return apply


def mutants(data: bytes, seed: int, count: int = BURST) -> list[bytes]:
    """`count` variants of `data`: octets set, inserted, deleted, repeated, cut; each from
    the one before, so that mutations pile up."""
    rng = random.Random(seed)
    current = bytearray(data)
    found = []
    for _ in range(count):
        kind = rng.randrange(6)
        at = rng.randrange(len(current) + 1)
        if kind == 0 and current:
            current[at % len(current)] = rng.randrange(256)
        elif kind == 1:
            current[at:at] = rng.randbytes(rng.randrange(1, 5))
        elif kind == 2:
            del current[at : at + rng.randrange(1, 9)]
        elif kind == 3:
            current[at:at] = current[at : at + rng.randrange(1, 17)]
        elif kind == 4:
            current = bytearray(data)  # start again from the example
        else:
            current[at:] = b""
        found.append(bytes(current))
    return found


def fed(target: str, count: int = 1) -> None:
    """Count `count` inputs given to `target`."""
    INPUTS[target] += count
