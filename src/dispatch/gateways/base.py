"""The gateway interface: what the daemon sends through and where adapters hand what
gateways send back. The words they exchange (Outbound, Accepted, Receipt, …) are the
vocabulary's (dispatch.vocabulary)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dispatch.vocabulary import (
    CallEnded,
    InboundMessage,
    Keypress,
    Outbound,
    Receipt,
    SubmitResult,
)

if TYPE_CHECKING:  # types only: the interface itself runs nothing
    import trio

    from dispatch.gateways.errors import GatewayErrors
    from dispatch.gateways.health import GatewayHealth
    from dispatch.httpserver import Handler, Request, Response


INVALID_REPLY = "invalid_reply"  # Inbound.not_recorded: a reply refused as unreadable


@dataclass(frozen=True)
class CalledWithGet:
    """A callback route the gateway calls with GET, its fields in the query string (Kannel
    cannot POST its delivery reports); every other route takes POST only. Put in
    `Gateway.callbacks` in place of the handler it wraps."""

    handler: Handler

    async def __call__(self, request: Request) -> Response:
        return await self.handler(request)


class Inbound(Protocol):
    """Where adapters hand what gateways send us. Each call returns once it is recorded, so
    an adapter acknowledges to the gateway only what can no longer be lost."""

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        """Final receipts, recorded in one Redis call: in the caller's task (an adapter that
        batches itself, e.g. what one read brought), or with `join_others` together with
        the receipts other callers hand over at the same moment (one HTTP request often
        carries one receipt)."""
        ...

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        """Replies from recipients: an opt-out among them is in force when this returns."""
        ...

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        """Calls that reached their final status (their lines are free again)."""
        ...

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        """Keys pressed during calls: a 9 (do not call me again) is in force when this
        returns."""
        ...

    def not_recorded(self, kind: str, count: int = 1) -> None:
        """Receipts received but not recorded, counted in the metrics: "intermediate" (only
        acknowledged: enroute, accepted...) or "invalid" (refused as unreadable); or
        replies refused as unreadable: INVALID_REPLY."""
        ...


class Gateway(Protocol):
    """Sends messages; one result per message, in order. Never raises for a gateway fault."""

    name: str
    sender: str  # the sender identity (alphanumeric or number) messages go out with
    batch_size: int
    concurrency: int
    # It places calls: an accepted call holds its line until its end comes back
    # (Inbound.calls), instead of freeing it once the gateway answered.
    places_calls: bool
    # Error answers and transport failures by code (dispatch.gateways.errors), for metrics.
    errors: GatewayErrors

    @property
    def outstanding(self) -> int | None:
        """The most submissions it keeps outstanding at once (SMPP: every bind's window);
        None: no bound of its own. A line scheduler hands out no more than that."""
        ...

    def callbacks(self, inbound: Inbound) -> Mapping[str, Handler]:
        """Routes of the daemon's inbound HTTP port (path -> handler of a POST, or of a GET
        when wrapped in CalledWithGet) where the gateway posts receipts and replies, handed
        to `inbound`; none when they come another way (SMPP: over the binds)."""
        ...

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = ...) -> None:
        """Background work (connections, keepalives, reading receipts) until cancelled;
        `task_status.started()` once ready to submit."""
        ...

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]: ...

    def parts(self, text: str) -> int:
        """The submissions this text takes: what a line's rate is charged for it."""
        ...

    def health(self) -> GatewayHealth:
        """Can it be reached, as it last saw (dispatch.gateways.health): /healthz and the
        unit's status report it."""
        ...

    async def aclose(self) -> None: ...
