"""The SMPP package's exceptions."""

from __future__ import annotations

from dispatch.smpp.constants import Status


class SmppError(Exception):
    """Base of every error the smpp package raises on purpose."""


class SmppDecodeError(SmppError, ValueError):
    """Bytes that are not a valid PDU; the only exception decoding ever raises.

    `status` is what to answer the peer with (in a generic_nack or the PDU's response).
    """

    def __init__(self, message: str, status: int = Status.ESME_RINVCMDLEN) -> None:
        super().__init__(message)
        self.status = status


class SmppEncodeError(SmppError, ValueError):
    """A PDU whose field values cannot go on the wire (too long, out of range, NUL inside)."""


class LocalProtocolError(SmppError):
    """This side tried to send something its session state does not allow."""
