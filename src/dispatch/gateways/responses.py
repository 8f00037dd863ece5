"""Reading an HTTP gateway's answer: its JSON body and its Retry-After, for the gateway
kinds that speak HTTP (http, voice)."""

from __future__ import annotations

from typing import Any

import httpx


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON; None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response) -> float | None:
    """The gateway's Retry-After in seconds (never negative); None when absent or unreadable."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
