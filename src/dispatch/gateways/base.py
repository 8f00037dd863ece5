"""The gateway interface: what the daemon sends through and where adapters hand what
gateways send back. The words they exchange (Outbound, Accepted, Receipt, …) are the
vocabulary's (dispatch.vocabulary)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from dispatch.vocabulary import InboundMessage, Outbound, Receipt, SubmitResult

if TYPE_CHECKING:
    import trio


class Inbound(Protocol):
    """Where adapters hand what gateways send us. Each call returns once it is recorded, so
    an adapter acknowledges to the gateway only what can no longer be lost."""

    async def receipts(self, receipts: Sequence[Receipt]) -> None: ...

    async def messages(self, messages: Sequence[InboundMessage]) -> None: ...


class Gateway(Protocol):
    """Sends messages; one result per message, in order. Never raises for a gateway fault."""

    name: str
    sender: str  # the sender identity (alphanumeric or number) messages go out with
    batch_size: int
    concurrency: int

    async def run(self, inbound: Inbound, *,
                  task_status: trio.TaskStatus[None] = ...) -> None:
        """Background work (connections, keepalives, reading receipts) until cancelled;
        `task_status.started()` once ready to submit."""
        ...

    async def submit(self, messages: Sequence[Outbound]) -> list[SubmitResult]: ...

    def parts(self, text: str) -> int:
        """The submissions this text takes: what a line's rate is charged for it."""
        ...

    async def aclose(self) -> None: ...
