"""After a daemon sent one campaign and the deadline expired another: both are shown
finished (`dispatch status`, `dispatch campaign list`), and expired messages are not
counted as sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from dispatch.cli import main
from dispatch.enqueue import enqueue_file
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_meta import DEADLINE, MetaStore
from dispatch.store.redis import Redis, open_redis
from dispatch.store.status import state_counts
from tests.daemon.conftest import daemon_for
from tests.inbound import CALLBACK_SECRET
from tests.texts import RULES, SIGNED


async def enqueue(redis: Redis, settings: Settings, tmp_path: Path, campaign: str,
                  first: int) -> None:
    (tmp_path / f"{campaign}.csv").write_text(f"phone\n06{first:08d}\n06{first + 1:08d}\n")
    report = await enqueue_file(redis, settings, tmp_path / f"{campaign}.csv", campaign,
                                SIGNED, window="always", consent_required=False, rules=RULES,
                                deadline="2099-01-01T00:00:00+00:00")
    assert report.accepted == 2


async def send_one_expire_the_other(settings: Settings, tmp_path: Path) -> None:
    """"sent": delivered by the simulator; "late": its deadline passed while queued."""
    keys = Keys(settings.redis.key_prefix)
    with trio.fail_after(30):
        async with open_redis(settings) as redis, trio.open_nursery() as nursery:
            sim = Simulator(SimulatorConfig(http_port=0, seed=5, receipt_delay_ms=20,
                                            callback_secret=CALLBACK_SECRET))
            port = await nursery.start(sim.serve)
            await enqueue(redis, settings, tmp_path, "sent", 40_000_000)
            await enqueue(redis, settings, tmp_path, "late", 50_000_000)
            await MetaStore(redis, keys).change(  # as time would: enqueue refuses a past one
                "late", {DEADLINE: "2020-01-01T00:00:00+00:00"}, {"by": "test"})
            daemon = await daemon_for(redis, settings, port)
            await nursery.start(daemon.run)
            while True:
                both = await state_counts(redis, keys, ["sent", "late"])
                if (both["sent"]["delivered"], both["late"]["expired"]) == (2, 2):
                    break
                await trio.sleep(0.05)
            daemon.stop()
            nursery.cancel_scope.cancel()


def test_finished_campaigns_are_shown_finished_and_expired_ones_not_sent(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trio.run(send_one_expire_the_other, settings, tmp_path)
    config = tmp_path / "dispatch.toml"
    config.write_text(f'[redis]\nurl = "{settings.redis.url}"\n'
                      f'key_prefix = "{settings.redis.key_prefix}"\n')
    assert main(["campaign", "list", "--json", "--config", str(config)]) == 0
    rows = {row["campaign"]: row for row in json.loads(capsys.readouterr().out)["campaigns"]}
    assert (rows["sent"]["status"], rows["sent"]["sent"]) == ("finished", 2)
    assert (rows["late"]["status"], rows["late"]["sent"]) == ("finished", 0)
    assert rows["late"]["counts"]["expired"] == 2
    assert rows["late"]["finished_at"] is None  # the retention pass has not seen it yet
    assert main(["campaign", "list", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "active" not in table and table.count("finished") == 2
    assert main(["status", "--json", "--config", str(config)]) == 0
    progress = json.loads(capsys.readouterr().out)["progress"]
    assert {name: p["status"] for name, p in progress.items()} == \
        {"late": "finished", "sent": "finished"}
    assert main(["status", "--config", str(config)]) == 0
    assert capsys.readouterr().out.count("finished") == 2
