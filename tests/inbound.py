"""What tests share to post to a daemon's inbound port as a gateway would: the secret the
simulator and the daemon's HTTP gateway share, and signed requests."""

from __future__ import annotations

import json
import time
from typing import Any

from dispatch.signing import signed_headers

# The HTTP gateway's inbound_secret, which the simulator signs receipts and replies with.
CALLBACK_SECRET = "e2e-callback-secret-0123456789"


def signed_json(payload: Any, secret: str = CALLBACK_SECRET, at: float | None = None
                ) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a JSON POST signed with `secret` at unix time `at` (now)."""
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json",
               **signed_headers(secret, body, time.time() if at is None else at)}
    return body, headers
