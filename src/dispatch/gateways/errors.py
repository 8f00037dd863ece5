"""What went wrong with a gateway, counted by code: the daemon's metrics show them as
dispatch_gateway_errors_total{gateway,code}.

A code is a small closed set per gateway kind, never free text (a label value): the SMPP
command_status name (`ESME_RTHROTTLED`, `vendor_0x00000401`), the HTTP status of an error
answer ("429", "503"), or a word for a transport failure: "timeout" (no answer in time),
"connection_refused" (no connection could be made), "disconnected" (the connection was
lost, or closed by the other end) and "transport_error" (anything else on the wire).
An HTTP batch answer's own errors count as "item_error", an answer that cannot be read
(no message id, a garbled batch) as "invalid_answer".

Counting is a dictionary update on the error path only: nothing on a success.
"""

from __future__ import annotations

from typing import Final

import httpx
import trio

from dispatch.smpp.constants import status_name

TIMEOUT: Final = "timeout"
CONNECTION_REFUSED: Final = "connection_refused"
DISCONNECTED: Final = "disconnected"
TRANSPORT_ERROR: Final = "transport_error"
ITEM_ERROR: Final = "item_error"
INVALID_ANSWER: Final = "invalid_answer"
# An HTTP request that failed before it left (no connection could be had): the gateway
# cannot have taken it (vocabulary.Retry.unsent).
NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class GatewayErrors:
    """Errors by code since the daemon started (plain integers, read when scraped)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, code: str, times: int = 1) -> None:
        self.counts[code] = self.counts.get(code, 0) + times

    def transport(self, exc: BaseException) -> None:
        self.count(transport_code(exc))

    def http_status(self, status: int) -> None:
        self.count(str(status))

    def smpp_status(self, status: int, times: int = 1) -> None:
        self.count(smpp_code(status), times)


def smpp_code(status: int) -> str:
    """`ESME_RTHROTTLED`; outside the standard's table `vendor_0x00000401`."""
    return status_name(status).replace(" ", "_")


def transport_code(exc: BaseException) -> str:
    """The word for a transport failure (httpx, trio or the OS's)."""
    if isinstance(exc, httpx.TimeoutException | trio.TooSlowError | TimeoutError):
        return TIMEOUT
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return CONNECTION_REFUSED
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | ConnectionError
                  | trio.BrokenResourceError | trio.ClosedResourceError):
        return DISCONNECTED
    if isinstance(exc, OSError):  # no route, network unreachable...: nothing connected
        return CONNECTION_REFUSED
    return TRANSPORT_ERROR
