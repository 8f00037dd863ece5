"""No body posted to the daemon stops it (issue 17, item 9): text that cannot be stored (a
lone surrogate, a NUL, bytes that are not UTF-8) in a receipt or a reply is refused with
400 and one line saying what is wrong, and the receipts that follow are recorded. The
daemon in process, its real inbound port, the in-process simulator, a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import trio

from dispatch.daemon.service import Ports
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.signing import signed_headers
from dispatch.simulator.service import Simulator
from dispatch.store.redis import Redis
from tests.daemon.conftest import daemon_for, enqueue, final_counts
from tests.inbound import CALLBACK_SECRET

BAD_RECEIPTS = [  # (body, what the refusal says)
    (b'[{"id": "\\ud800", "status": "delivered"}]', "body[0].id holds a lone surrogate"),
    (b'{"id": "gw-1", "status": "undeliverable", "error_code": "E\\udc00"}',
     "body.error_code holds a lone surrogate"),
    (b'[{"id": "gw\\u0000", "status": "delivered"}]', "body[0].id holds a NUL character"),
    (b'[{"id": "\xed\xa0\x80", "status": "delivered"}]', "body is not valid JSON"),
]
BAD_REPLIES = [
    (b'{"from": "+33612345678", "to": "38123", "text": "STOP\\ud83d"}',
     "body.text holds a lone surrogate"),
    (b'[{"from": "+3361\\u0000", "to": "38123", "text": "STOP"}]',
     "body[0].from holds a NUL character"),
    (b'{"from": "+33612345678", "to": "38123", "text": "\xff\xfe"}', "body is not valid JSON"),
]


async def post(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json",
               **signed_headers(CALLBACK_SECRET, body, time.time())}
    return await client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("count", [40])
async def test_bad_receipts_and_replies_get_400_and_the_daemon_keeps_recording(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int], count: int) -> None:
    _, port = simulator
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(60):
        await enqueue(redis, settings, tmp_path, count)
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            ports: Ports = await nursery.start(daemon.run)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.inbound}") as client:
                for path, cases in (("/receipts", BAD_RECEIPTS), ("/inbound", BAD_REPLIES)):
                    for body, reason in cases:
                        answer = await post(client, path, body)
                        assert answer.status_code == 400, (path, body, answer.text)
                        assert reason in answer.json()["error"]
                good = await post(client, "/inbound",
                                  b'{"from": "+33612345678", "to": "38123", "text": "Merci"}')
                assert good.status_code == 200
            counts = await final_counts(redis, settings, count)  # the simulator's receipts
            daemon.stop()
    assert counts["delivered"] + counts["failed"] + counts["expired"] == count
    metrics = daemon.metrics
    assert metrics.receipt_results["invalid"]._value.get() == len(BAD_RECEIPTS)
    assert metrics.inbound_messages.labels("invalid")._value.get() == len(BAD_REPLIES)
    assert await redis.xlen(keys.inbound) == 1  # the good reply alone
