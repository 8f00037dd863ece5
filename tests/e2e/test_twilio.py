"""End to end, the twilio kind: the real daemon with a `twilio` gateway against the real
simulator's Messages API. A campaign through a period of 429s ends with every message
final and its receipt recorded from signed status callbacks; a STOP posted to the inbound
webhook, signed, opts the number out; forged (unsigned or badly signed) callbacks are
refused and change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.signing import TWILIO_HEADER, twilio_signature
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    wait_until_final,
)
from tests.texts import SIGNED

COUNT = 120
ACCOUNT, TOKEN = "ACe2e", "e2e-auth-token"
LINE = "+33700000001"
NUMBERS = [f"06{12_000_000 + i:08d}" for i in range(COUNT)]
STOPPER, FORGED_STOPPER = "+33612000000", "+33612000001"  # the first two recipients
FORM = {"content-type": "application/x-www-form-urlencoded"}


def twilio_config(path: Path, settings: Settings, port: int) -> Path:
    path.write_text(
        f'[redis]\nurl = "{settings.redis.url}"\nkey_prefix = "{settings.redis.key_prefix}"\n'
        f'\n[daemon]\nconsumer = "twilio"\ninbound_port = 0\nmetrics_port = 0\n'
        f"retry_base_s = 0.05\nretry_max_s = 0.5\nmax_attempts = 50\n"
        f'\n[gateways.sms]\ntype = "twilio"\nurl = "http://127.0.0.1:{port}"\n'
        f'account_sid = "{ACCOUNT}"\nauth_token = "{TOKEN}"\nsender = "{LINE}"\n'
        f"batch_size = 5\nconcurrency = 4\n")
    return path


async def post_json(child: Child, path: str, payload: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"http://127.0.0.1:{child.ready['http_port']}{path}",
                                 json=payload)


async def opted_out(config: Path, number: str) -> bool:
    result = await run_cli("optout", "check", number, "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    return bool(json.loads(result.stdout)["opted_out"])


async def throttled_for_a_while(simulator: Child) -> int:
    """Wait until the daemon met 20 answers 429, then end the throttling period."""
    while (await simulator_stats(simulator))["twilio"]["throttled"] < 20:
        await trio.sleep(0.05)
    await post_json(simulator, "/faults", {"throttle": 0, "for_s": 0})
    throttled: int = (await simulator_stats(simulator))["twilio"]["throttled"]
    return throttled


async def forged_posts(daemon: Child) -> list[int]:
    """A STOP unsigned, and a failed status signed with another token, to the daemon."""
    base = f"http://127.0.0.1:{daemon.ready['inbound_port']}/twilio/sms"
    stop = {"MessageSid": "SMforged", "AccountSid": ACCOUNT, "From": FORGED_STOPPER,
            "To": LINE, "Body": "STOP"}
    failed = {"MessageSid": "SMforged", "MessageStatus": "failed", "AccountSid": ACCOUNT}
    url = f"{base}/status?gateway=sms"
    wrong = twilio_signature("not-the-token", url, failed.items())
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(f"{base}/inbound?gateway=sms", headers=FORM,
                                     content=urlencode(stop))
        badly = await client.post(url, headers={**FORM, TWILIO_HEADER: wrong},
                                  content=urlencode(failed))
    return [unsigned.status_code, badly.status_code]


async def test_a_twilio_campaign_ends_final_through_429s_with_stops_and_forgeries(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(60):
        simulator = await start_simulator(
            reaper, tmp_path, "--twilio-account", f"{ACCOUNT}:{TOKEN}",
            "--receipt-delay-ms", "50",
            "--outcomes", "delivered=0.8,undeliverable=0.1,rejected=0.1")
        config = twilio_config(tmp_path / "dispatch.toml", settings,
                               simulator.ready["http_port"])
        (tmp_path / "c.csv").write_text("phone\n" + "\n".join(NUMBERS) + "\n")
        loaded = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "t1",
                               "--text", f"Votez le 11 avril. {SIGNED}", "--config",
                               str(config), "--json")
        assert json.loads(loaded.stdout)["accepted"] == COUNT, loaded.stderr.decode()
        # The provider throttles everything until the daemon met 20 of its 429s.
        await post_json(simulator, "/faults", {"throttle": 1.0, "for_s": 600})
        daemon = await start_daemon(reaper, tmp_path, config)
        throttled = await throttled_for_a_while(simulator)
        counts = await wait_until_final(config, "t1", COUNT, [daemon, simulator])
        while (await simulator_stats(simulator))["twilio"]["callbacks"]["pending"]:
            await trio.sleep(0.05)  # the last status callbacks (intermediate ones)
        injected = await post_json(simulator, "/twilio/mo",
                                   {"from": STOPPER, "to": LINE, "text": "STOP"})
        while not await opted_out(config, STOPPER):
            await trio.sleep(0.1)
        refused = await forged_posts(daemon)
        forged_stop_held = await opted_out(config, FORGED_STOPPER)
        after = await status_of(config)
        assert await daemon.stop() == 0
        stats = await simulator_stats(simulator)
    twilio = stats["twilio"]
    # Every message final, every receipt recorded (none left awaiting one, none expired).
    assert counts["delivered"] + counts["failed"] == COUNT
    assert counts["queued"] == counts["in_flight"] == counts["submitted"] == 0
    assert (counts["delivered"], counts["failed"]) == (
        twilio["outcomes"]["delivered"],
        twilio["outcomes"]["undeliverable"] + twilio["outcomes"]["rejected"])
    # The 429s cost nothing: each number got its one SMS.
    assert throttled >= 20 and twilio["throttled"] == throttled
    assert twilio["messages_per_number"] == {"1": COUNT} and twilio["duplicates"] == 0
    assert twilio["callbacks"]["failed"] == 0
    # The STOP came through the signed webhook; forgeries changed nothing.
    assert injected.status_code == 202 and twilio["mo"]["acknowledged"] == 1
    assert refused == [401, 401] and not forged_stop_held
    assert after == counts and stats["sent_after_stop"] == 0


async def status_of(config: Path) -> dict[str, int]:
    result = await run_cli("status", "--campaign", "t1", "--json", "--config", str(config))
    counts: dict[str, int] = json.loads(result.stdout)["campaigns"]["t1"]
    return counts
