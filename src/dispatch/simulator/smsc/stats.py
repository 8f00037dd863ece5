"""The SMSC's counters, as GET /stats shows them under `smpp` (plus the top-level
`line_violations`). Plain integers bumped on the hot path; pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class SmscCounters:
    connections: int = 0  # currently open
    binds: int = 0  # successful binds, all time
    bind_failures: int = 0  # bad system_id or password
    submit_sm: int = 0  # every submit_sm read, whatever its fate
    parts: int = 0  # submit_sm accepted (each part of a long message counts one)
    ucs2_parts: int = 0  # ... of them in UCS-2 (data_coding 8)
    throttled: int = 0  # ESME_RTHROTTLED answers, line violations included
    queue_full: int = 0  # ESME_RMSGQFUL answers (window exceeded)
    errors_injected: int = 0  # smpp_error answers
    no_response: int = 0  # submit_sm silently ignored
    rejected_invalid: int = 0  # submit_sm without a destination (ESME_RINVDSTADR)
    junk: int = 0  # undecodable PDUs (generic_nack) and unframeable streams (closed)
    invalid_state: int = 0  # requests refused by the session state (ESME_RINVBNDSTS ...)
    receipts_sent: int = 0  # receipt deliver_sm acknowledged with ESME_ROK
    receipts_pending: int = 0  # scheduled, waiting for a receiver, or awaiting a response
    receipts_resent: int = 0  # deliver_sm sent again after a timeout or an error status
    receipts_failed: int = 0  # given up after the last attempt (logged)
    receipts_dropped: int = 0  # refused because too many were held (logged)
    mo_sent: int = 0  # MO deliver_sm acknowledged with ESME_ROK (one per part)
    mo_pending: int = 0
    mo_failed: int = 0  # MO deliver_sm given up or dropped (logged)
    enquire_links_sent: int = 0
    unbinds: int = 0  # unbind requests from clients
    disconnects: int = 0  # connections closed or unbound by the SMSC
    line_violations: int = 0  # submit_sm over a line's rate (shown at the top level)

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        del values["line_violations"]
        return values
