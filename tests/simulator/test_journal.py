"""The simulator's journal: what it took and owes survives it. A simulator started again on
the same journal counts the earlier acceptances, answers their idempotency keys with the
same ids, and sends again every receipt owed (over real HTTP, receipts caught by an
httpx.MockTransport standing in for the daemon)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trio

from dispatch.simulator import Simulator, SimulatorConfig
from dispatch.simulator.journal import Journal, previous_life
from dispatch.simulator.smsc.receipts import ReceiptJob
from tests.simulator.http.test_gateway import message, running

CALLBACK = "http://daemon.test/receipts?gateway=a"


def simulator(journal: Path, posted: list[dict[str, object]]) -> Simulator:
    def daemon(request: httpx.Request) -> httpx.Response:
        posted.extend(json.loads(request.content))
        return httpx.Response(200, json={"recorded": 1})

    config = SimulatorConfig(http_port=0, seed=1, journal=str(journal),
                             receipt_delay_ms=0.0, outcomes={"delivered": 1.0})
    return Simulator(config, receipt_transport=httpx.MockTransport(daemon))


async def until_posted(posted: list[dict[str, object]], count: int) -> None:
    while len(posted) < count:  # bounded by the test's timeout
        await trio.sleep(0.01)


async def test_a_simulator_on_the_same_journal_takes_up_where_the_last_one_stopped(
        tmp_path: Path) -> None:
    journal = tmp_path / "a.journal"
    first_posts: list[dict[str, object]] = []
    second_posts: list[dict[str, object]] = []
    with trio.fail_after(10):
        first = simulator(journal, first_posts)
        async with running(first) as client:
            for reference in ("r1", "r2"):
                reply = await client.post("/sms", json=message(reference, callback_url=CALLBACK),
                                          headers={"Idempotency-Key": reference})
                assert reply.status_code == 200
            await until_posted(first_posts, 2)
        ids = {str(p["reference"]): str(p["id"]) for p in first_posts}

        second = simulator(journal, second_posts)  # killed and started again, say
        async with running(second) as client:
            await until_posted(second_posts, 2)  # the receipts owed, sent again
            again = await client.post("/sms", json=message("r1", callback_url=CALLBACK),
                                      headers={"Idempotency-Key": "r1"})
            assert again.json()["id"] == ids["r1"], "a retry is a replay, not a second SMS"
            new = await client.post("/sms", json=message("r1", callback_url=CALLBACK),
                                    headers={"Idempotency-Key": "other"})
            assert new.status_code == 200
            stats = second.stats()
    assert {str(p["id"]) for p in second_posts[:2]} == set(ids.values())
    assert (stats["accepted"], stats["replays"], stats["duplicates"]) == (2, 1, 1)


def test_the_journal_reads_back_what_was_written_and_skips_a_line_cut_by_a_kill(
        tmp_path: Path) -> None:
    path = tmp_path / "s.journal"
    journal = Journal(str(path))
    job = ReceiptJob("00ab", "delivered", 1.5, "Vote! é", (1, 1, "33612345678", 3, 0, "36111"))
    journal.recorded("c1:0")
    journal.smpp_receipt("e2e", job)
    journal.flush()
    with path.open("a") as cut:
        cut.write('["accepted", "r9", nu')  # the kill came mid-write
    life = previous_life(str(path))
    assert life.recorded == ["c1:0"]
    assert life.smpp_receipts == [("e2e", job)]
    assert life.accepted == [] and life.http_receipts == []
    assert previous_life(str(tmp_path / "none")).recorded == []
