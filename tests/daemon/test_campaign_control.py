"""Pause, resume and cancel a campaign while a daemon sends it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from dispatch.cli import main
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.simulator.service import Simulator
from dispatch.store.campaign_admin import CampaignAdmin, CampaignNotFound
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.daemon.conftest import daemon_for, enqueue, final_counts
from tests.texts import SENDER, SIGNED


async def counts(redis: Redis, settings: Settings) -> dict[str, int]:
    return (await state_counts(redis, Keys(settings.redis.key_prefix), ["c1"]))["c1"]


async def test_a_paused_campaign_sends_nothing_until_resumed(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    admin = CampaignAdmin(redis, Keys(settings.redis.key_prefix))
    with trio.fail_after(60):
        await enqueue(redis, settings, tmp_path, 200)
        await admin.pause("c1")
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            await trio.sleep(2.5)  # more than two status refreshes
            assert sim.stats()["accepted"] == 0
            assert (await counts(redis, settings))["queued"] == 200
            await admin.resume("c1")
            await final_counts(redis, settings, 200)
            daemon.stop()
    assert sim.stats()["accepted"] == 200


async def test_cancel_ends_unsent_messages_cancelled_and_is_final(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    admin = CampaignAdmin(redis, Keys(settings.redis.key_prefix))
    await enqueue(redis, settings, tmp_path, 50)
    assert await admin.cancel("c1") == 50
    current = await counts(redis, settings)
    assert (current["queued"], current["cancelled"]) == (0, 50)
    assert await admin.status("c1") == "cancelled"
    with pytest.raises(ValueError, match="cancelled: it cannot be active again"):
        await admin.resume("c1")
    with pytest.raises(CampaignNotFound, match="no campaign 'nope'"):
        await admin.pause("nope")


async def test_cancelling_a_paused_campaign_under_a_running_daemon_sends_none_of_it(
        redis: Redis, settings: Settings, tmp_path: Path,
        simulator: tuple[Simulator, int]) -> None:
    sim, port = simulator
    admin = CampaignAdmin(redis, Keys(settings.redis.key_prefix))
    with trio.fail_after(60):
        await enqueue(redis, settings, tmp_path, 100)
        await admin.pause("c1")
        daemon = await daemon_for(redis, settings, port)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            await trio.sleep(1.5)
            await admin.cancel("c1")
            while (await counts(redis, settings))["cancelled"] < 100:
                await trio.sleep(0.05)
            daemon.stop()
    assert sim.stats()["accepted"] == 0
    assert len(daemon.tracker) == 0


def one_campaign(settings: Settings, tmp_path: Path, campaign: str) -> Path:
    """A config on the test's Redis and a one-number campaign enqueued by the CLI."""
    config = tmp_path / "dispatch.toml"
    config.write_text(f'[redis]\nurl = "{settings.redis.url}"\n'
                      f'key_prefix = "{settings.redis.key_prefix}"\n')
    (tmp_path / "c.csv").write_text("phone\n0612345678\n")
    assert main(["enqueue", str(tmp_path / "c.csv"), "--campaign", campaign,
                 "--no-consent-required", "--text", SIGNED, "--sender", SENDER,
                 "--config", str(config)]) == 0
    return config


def test_campaign_list_json(settings: Settings, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    config = one_campaign(settings, tmp_path, "c9")
    assert main(["campaign", "pause", "c9", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["campaign", "list", "--json", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)["campaigns"]
    assert (row["campaign"], row["status"], row["counts"]["queued"]) == ("c9", "paused", 1)
    assert (row["sender"], row["overrides"]) == (SENDER, {})
    assert main(["enqueue", str(tmp_path / "c.csv"), "--campaign", "c8", "--no-consent-required",
                 "--text", "Votez !", "--allow-missing-optout", "--allow-missing-sender",
                 "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["campaign", "list", "--json", "--config", str(config)]) == 0
    rows = {row["campaign"]: row for row in json.loads(capsys.readouterr().out)["campaigns"]}
    assert list(rows["c8"]["overrides"]) == ["missing_optout", "missing_sender"]
    assert main(["campaign", "list", "--config", str(config)]) == 0
    table = capsys.readouterr().out  # rich wraps the cell on a narrow terminal
    assert "override" in table and "optout," in table and "sender" in table
    assert main(["campaign", "resume", "nope", "--config", str(config)]) == 2
    assert capsys.readouterr().err == "dispatch campaign: no campaign 'nope'\n"


def test_campaign_share_is_checked_stored_and_listed(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = one_campaign(settings, tmp_path, "c7")
    capsys.readouterr()
    assert main(["campaign", "share", "c7", "--weight", "3", "--config", str(config)]) == 0
    assert main(["campaign", "share", "c7", "--priority", "2", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "campaign c7: weight 3, priority 2"
    assert main(["campaign", "share", "c7", "--weight", "0", "--config", str(config)]) == 2
    assert "weight must be between 0.01 and 1000, got 0.0" in capsys.readouterr().err
    assert main(["campaign", "list", "--json", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)["campaigns"]
    assert (row["weight"], row["priority"]) == (3.0, 2)
