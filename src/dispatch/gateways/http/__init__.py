"""The HTTP SMS gateway (the simulator's protocol): submissions one by one or in batches
with an idempotency key (gateway), receipts and replies posted back to the daemon's
inbound port (callbacks)."""

from dispatch.gateways.http.gateway import HttpGateway, build

__all__ = ["HttpGateway", "build"]
