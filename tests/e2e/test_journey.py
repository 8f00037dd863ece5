"""The campaign operator's journey, end to end with the real processes (issue 15): a French
spreadsheet export (Windows-1252, ';'), a top-up, a window closed at load, a pause, a STOP
replied to the short code, a purge — and every output the operator reads along the way."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import trio

from dispatch.processes import Child
from dispatch.settings import Settings
from tests.e2e.conftest import ON_BOTH
from tests.e2e.harness import (
    run_cli,
    start_daemon,
    start_simulator,
    status,
    wait_until_final,
    write_config,
)
from tests.texts import SENDER

TEXT = "Bonjour {prenom}, votez le 11 avril. Parti Test. STOP au 36111"
HEADER = "phone;prenom;consent_source;consent_date\r\n"
NAMES = ("Hélène", "François", "Zoë", "Loïc", "Gaëlle", "Jérôme", "Noël", "Agnès")
STOPPER = "+33650000003"  # replies STOP once the campaign has reached it


def export(path: Path, first: int, count: int, *, bad: int = 0) -> Path:
    """A French spreadsheet export: Windows-1252, ';'-separated, CRLF; `bad` rows with an
    invalid number at the end."""
    rows = [f"06{50_000_000 + i:08d};{NAMES[i % len(NAMES)]};site web;2024-03-0{1 + i % 9}"
            for i in range(first, first + count)]
    rows += [f"06123{i};Zoé;site web;2024-03-01" for i in range(bad)]
    path.write_bytes((HEADER + "\r\n".join(rows) + "\r\n")
                     .encode("cp1252"))
    return path


def closed_window() -> tuple[str, dt.datetime]:
    """A one-hour window two hours from now in Paris: closed at load."""
    now = dt.datetime.now(ZoneInfo("Europe/Paris"))
    opens = (now + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    end = "23:59" if opens.hour == 23 else f"{opens.hour + 1:02d}:00"
    return f"mon-sun {opens.hour:02d}:00-{end}", opens


async def cli(*args: str) -> tuple[int, str, str]:
    result = await run_cli(*args)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def load(config: Path, path: Path, window: str, *extra: str) -> tuple[int, str, str]:
    return await cli("enqueue", str(path), "--campaign", "j1", "--text", TEXT, "--window",
                     window, "--sender", SENDER, "--consent-required", "--config",
                     str(config), *extra)


async def stop_reply(simulator: Child, number: str) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"http://127.0.0.1:{simulator.ready['http_port']}/mo",
                                  json={"from": number, "to": "36111", "text": "STOP"})
    assert reply.status_code == 202, reply.text
    answer: dict[str, object] = reply.json()
    return answer


@ON_BOTH
async def test_the_operator_journey(settings: Settings, tmp_path: Path,
                                    reaper: list[Child]) -> None:
    window, opens = closed_window()
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[opens.weekday()]
    with trio.fail_after(180):
        simulator = await start_simulator(reaper, tmp_path, "--receipt-delay-ms", "20")
        # The gateway's table ends the file: its messages go out from the short code the
        # voters reply STOP to.
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="journey",
                              tables='sender = "36111"\n')

        # Sunday's export: 20 people, 2 rows with a broken number; the window is closed.
        code, out, err = await load(config, export(tmp_path / "a.csv", 0, 20, bad=2), window)
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == ("campaign j1: 20 accepted, 0 duplicates, 0 opted out, "
                            "2 rejected (22 rows)")
        assert lines[1:3] == ["  line 22: invalid phone number",
                              "  line 23: invalid phone number"]
        assert "file read as Windows-1252, semicolon-separated" in lines
        assert (f"sending starts {day} {opens:%H}:00 (mainland France; closed now: outside "
                f"its hours)") in lines

        # Monday's top-up: 5 more people and 3 already loaded.
        code, out, err = await load(config, export(tmp_path / "b.csv", 17, 8), window)
        assert (code, err) == (0, "")
        assert out.startswith("campaign j1: 5 accepted, 3 duplicates, 0 opted out, "
                              "0 rejected (8 rows)")
        # A top-up cannot re-date what is queued.
        code, out, err = await load(config, tmp_path / "b.csv", window, "--deadline",
                                    "2099-04-10")
        assert code != 0 and out == ""
        assert err.startswith("dispatch enqueue: campaign 'j1' already exists with "
                              "--deadline '(none)', not '2099-04-10'")
        assert err.count("\n") == 1

        daemon = await start_daemon(reaper, tmp_path, config)
        report = await status(config)
        assert report["campaigns"]["j1"]["queued"] == 25
        progress = report["progress"]["j1"]
        assert (progress["status"], progress["window"]) == ("active", "closed")
        assert progress["waiting_for_window"] == 25
        assert progress["window_opens"].startswith(opens.strftime("%Y-%m-%dT%H:00"))
        code, out, err = await cli("status", "--config", str(config))
        assert code == 0 and f"waiting for its window: 25 (opens {day} {opens:%H}:00" in out

        # Paused, then the window opened on purpose (audited), then resumed.
        code, out, _ = await cli("campaign", "pause", "j1", "--config", str(config))
        assert code == 0
        assert (await status(config))["progress"]["j1"]["status"] == "paused"
        code, out, err = await cli("campaign", "set", "j1", "--window", "always",
                                   "--config", str(config))
        assert (code, err) == (0, "")
        assert out.startswith(f"campaign j1: window {window!r} -> 'always' (audited")
        code, out, _ = await cli("campaign", "resume", "j1", "--config", str(config))
        assert code == 0
        counts = await wait_until_final(config, "j1", 25, [daemon, simulator])
        assert counts["delivered"] + counts["failed"] == 25 and counts["queued"] == 0
        assert (await status(config))["progress"]["j1"]["status"] == "finished"

        # A voter replies STOP to the short code: opted out of every campaign after.
        await stop_reply(simulator, STOPPER)
        for _ in range(100):
            code, out, _ = await cli("optout", "check", STOPPER, "--config", str(config))
            if code == 0 and "opted out" in out and "not opted out" not in out:
                break
            await trio.sleep(0.1)
        assert "not opted out" not in out and "opted out" in out
        assert await daemon.stop() == 0

        # The purge erases the people, keeps the counts, and the STOP still holds.
        code, out, err = await cli("purge", "--campaign", "j1", "--json", "--config",
                                   str(config))
        assert code == 0, err
        assert json.loads(out)["campaign"] == "j1"
        code, out, _ = await cli("provenance", STOPPER, "--json", "--config", str(config))
        assert code == 0
        held = json.loads(out)
        assert held["campaigns"] == []  # the purged campaign no longer holds the number
        assert held["opt_out"]["opted_out"] is True  # the STOP, kept as a keyed hash
        assert held["opt_out"]["hashed_scopes"] == ["line:36111"]
        assert [entry["source"] for entry in held["audit"]] == ["mo"]
        code, out, _ = await cli("optout", "export", "--config", str(config))
        assert code == 0
        assert out.splitlines()[0] == "number,scope,since,kept_as"
        assert any(row.endswith(",hash") for row in out.splitlines()[1:])
        assert STOPPER not in out
        again = await cli("enqueue", str(tmp_path / "a.csv"), "--campaign", "j2", "--text",
                          TEXT, "--sender", SENDER, "--consent-required", "--json",
                          "--config", str(config))
        assert json.loads(again[1])["suppressed"] == 1  # the STOP holds after the purge
        kept = (await status(config))["campaigns"]["j1"]  # the counts outlive the purge
        assert (kept["delivered"], kept["failed"]) == (counts["delivered"], counts["failed"])
