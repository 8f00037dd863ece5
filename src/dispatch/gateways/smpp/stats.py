"""Counters of one SMPP gateway, for logs, metrics and the benchmarks (plain integers)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from dispatch.gateways.errors import GatewayErrors


@dataclass(slots=True)
class ClientStats:
    parts_sent: int = 0  # submit_sm written
    throttled: int = 0  # ESME_RTHROTTLED / ESME_RMSGQFUL answers
    timeouts: int = 0  # submit_sm unanswered within timeout_s: fate unknown, may duplicate
    lost_in_flight: int = 0  # submit_sm outstanding when their connection died: fate unknown
    late_responses: int = 0  # answers to requests already timed out (so: likely duplicates)
    receipts: int = 0  # final receipts handed to the daemon
    receipts_acknowledged_only: int = 0  # intermediate ones, or ones without an id
    mo_messages: int = 0  # whole messages handed to the daemon
    inbound_failures: int = 0  # deliver_sm answered ESME_RX_T_APPN (the SMSC resends)
    binds_up: int = 0
    bind_failures: int = 0
    disconnects: int = 0
    # Error answers (by command_status) and transport failures, by code: the metrics'.
    errors: GatewayErrors = field(default_factory=GatewayErrors)

    def as_dict(self) -> dict[str, int]:
        """The plain counters (not `errors`)."""
        return {f.name: value for f in fields(self)
                if isinstance(value := getattr(self, f.name), int)}
