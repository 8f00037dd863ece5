"""Reading an HTTP gateway's answer: its JSON body and its Retry-After, for the gateway
kinds that speak HTTP (http, voice, kannel); and sending a batch one request a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import trio

from dispatch.vocabulary import Outbound, SubmitResult


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


async def each_at_once(messages: Sequence[Outbound], unsent: SubmitResult,
                       send: Callable[[Outbound], Awaitable[SubmitResult]]
                       ) -> list[SubmitResult]:
    """`send` each message, all at once (the gateway bounds its connections), their results
    in order; `unsent`: the result of one not sent (never left, unless cancelled)."""
    results = [unsent] * len(messages)

    async def one(index: int, message: Outbound) -> None:
        results[index] = await send(message)

    async with trio.open_nursery() as nursery:
        for index, message in enumerate(messages):
            nursery.start_soon(one, index, message)
    return results
