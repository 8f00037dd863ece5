"""A gateway's outages in the log, as its senders see them: what each submission got back.

A submission none of whose messages got through, for a reason that says the gateway is
not serving (no answer, no connection, no bind, a 5xx, an SMPP error that is not a
throttle), is a failure; one that got anything else (an acceptance, a refusal of a
message, a throttle, a 4xx) shows the gateway answering. Failures and answers go to an
OutageLog (dispatch.logs): one line when the gateway starts failing, with the kind of
error; at most one a minute while it lasts, with the count of messages held back for a
retry; one when it answers again, with how long it lasted. The senders of a gateway share
one (`GatewayOutages`).

Nothing is done on the common path but an isinstance test of the first result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from dispatch.logs import OUTAGE_SUMMARY_S, OutageLog
from dispatch.vocabulary import Retry, SubmitResult

log = logging.getLogger(__name__)

KIND_CHARS = 120


class GatewayOutage:
    def __init__(self, gateway: str, *, clock: Callable[[], float] = time.monotonic,
                 every_s: float = OUTAGE_SUMMARY_S, logger: logging.Logger = log) -> None:
        self.log = OutageLog(f"gateway {gateway}", logger, unit="messages to retry",
                             every_s=every_s, clock=clock,
                             extra={"dependency": "gateway", "gateway": gateway})

    def answered(self, results: Sequence[SubmitResult]) -> None:
        """What one submission got back (one result per message)."""
        kind = ""
        for result in results:
            trouble = outage_kind(result) if isinstance(result, Retry) else None
            if trouble is None:  # it answered
                self.log.recovered()
                return
            kind = kind or trouble
        if kind:
            self.log.failed(kind, len(results))


def outage_kind(result: Retry) -> str | None:
    """What a result to retry says of the gateway: None when it answered (a throttle, a
    4xx such as a line busy or credentials refused, which its adapter reports), else the
    kind of failure in a few words, without the gateway's free text."""
    if result.throttled:
        return None
    reason = result.reason
    if reason.startswith("HTTP "):
        status = reason[5:8]
        if status.isdigit() and (int(status) >= 500 or int(status) == 408):
            return f"HTTP {status}"
        return None
    return reason[:KIND_CHARS]


class GatewayOutages(dict[str, GatewayOutage]):
    """Each gateway's, shared by its senders."""

    def of(self, gateway: str) -> GatewayOutage:
        outage = self.get(gateway)
        if outage is None:
            outage = self[gateway] = GatewayOutage(gateway)
        return outage
