"""Message states and their one-letter codes as stored in Redis — pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

QUEUED: Final = "queued"
IN_FLIGHT: Final = "in_flight"
SUBMITTED: Final = "submitted"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
EXPIRED: Final = "expired"
SUPPRESSED: Final = "suppressed"  # the recipient opted out: never sent
CANCELLED: Final = "cancelled"  # its campaign was cancelled before it was sent

# One byte per message in the state hash keeps Redis memory per message small.
STATE_CODES: Final[dict[str, str]] = {
    QUEUED: "q",
    IN_FLIGHT: "i",
    SUBMITTED: "s",
    DELIVERED: "d",
    FAILED: "f",
    EXPIRED: "x",
    SUPPRESSED: "p",
    CANCELLED: "c",
}
STATES_BY_CODE: Final[dict[str, str]] = {code: state for state, code in STATE_CODES.items()}

# States a message never leaves.
FINAL_STATES: Final = frozenset({DELIVERED, FAILED, EXPIRED, SUPPRESSED, CANCELLED})
# Order in which `status` shows states.
ALL_STATES: Final = (QUEUED, IN_FLIGHT, SUBMITTED, DELIVERED, FAILED, EXPIRED, SUPPRESSED,
                     CANCELLED)

# A campaign's status (meta field "status"; absent means active).
ACTIVE: Final = "active"
PAUSED: Final = "paused"
CAMPAIGN_STATUSES: Final = (ACTIVE, PAUSED, CANCELLED)


@dataclass(frozen=True)
class Share:
    """How a campaign shares its pool's lines with the others: a higher priority goes
    first; within one priority, lines are shared in proportion to weight."""

    weight: float = 1.0
    priority: int = 0

    @classmethod
    def checked(cls, weight: float, priority: int) -> Share:
        if not (math.isfinite(weight) and 0.01 <= weight <= 1000):
            raise ValueError(f"weight must be between 0.01 and 1000, got {weight}")
        if not -100 <= priority <= 100:
            raise ValueError(f"priority must be between -100 and 100, got {priority}")
        return cls(weight, priority)

    @classmethod
    def from_meta(cls, weight: bytes | None, priority: bytes | None) -> Share:
        """From the campaign meta (absent: the defaults; damaged: the defaults too, since
        `dispatch campaign share` only writes checked values)."""
        try:
            return cls.checked(float(weight or b"1"), int(priority or b"0"))
        except ValueError:
            return cls()

