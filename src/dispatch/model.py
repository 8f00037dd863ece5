"""Message states and their one-letter codes as stored in Redis — pure."""

from __future__ import annotations

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
