"""The receipt poster: sends delivery receipts to each message's callback URL.

A BatchPoster (poster.py) of receipts: scheduled at acceptance for their due time,
grouped by callback URL, `receipt_batch` to a POST, retried with doubling backoff, then
counted failed: every receipt ends sent or failed, never silently dropped. Its listener
(the replies, when recipients answer) hears when each batch settles.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from dispatch.simulator.config import ERROR_CODES, SimulatorConfig
from dispatch.simulator.http.poster import BatchPoster, RetryPolicy, hmac_signer

Receipt = tuple[str, str, str]  # gateway id, reference, status


def retry_policy(config: SimulatorConfig) -> RetryPolicy:
    """How receipts (and replies) are retried: the `receipt_*` knobs."""
    return RetryPolicy(config.receipt_attempts, config.receipt_retry_base_ms / 1000,
                       config.receipt_retry_cap_ms / 1000)


class ReceiptPoster(BatchPoster[Receipt]):
    def __init__(self, config: SimulatorConfig,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__("receipts", config.receipt_batch, retry_policy(config),
                         encode_receipts, transport, sign=hmac_signer(config.callback_secret))

    def skip(self) -> None:
        """A message accepted without a callback URL: no receipt to send."""
        self.counters.skipped += 1


def encode_receipts(receipts: list[Receipt]) -> bytes:
    done_at = _utc_now_iso()
    return json.dumps(
        [{"id": gwid, "reference": reference, "status": status,
          "error_code": ERROR_CODES[status], "done_at": done_at}
         for gwid, reference, status in receipts],
        separators=(",", ":"),
    ).encode()


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
