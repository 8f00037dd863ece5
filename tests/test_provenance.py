"""`dispatch provenance` and `dispatch purge` as commands, on the test session's Redis."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType

import pytest
import trio

from dispatch.commands import provenance as provenance_command
from dispatch.commands import purge as purge_command
from dispatch.commands.common import UserError
from dispatch.daemon.inbound.answers import answer_texts
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.enqueue import Exclusivity, enqueue_file
from dispatch.keys import Keys
from dispatch.settings import AnswerSettings, Settings
from dispatch.store.answers import Settled
from dispatch.store.optout import OptOutEvent, OptOutStore
from dispatch.store.provenance import provenance
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from dispatch.vocabulary import InboundMessage, Outcome
from tests.texts import RULES, SIGNED

NUMBER = "+33612000001"


def config(tmp_path: Path, settings: Settings) -> str:
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{settings.redis.url}"\n'
                    f'key_prefix = "{settings.redis.key_prefix}"\n')
    return str(path)


def command(module: ModuleType, *argv: str) -> int:
    """Run one command module the way dispatch.cli does."""
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    result: int = args.handler(args)
    return result


async def prepare(redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """Campaign a1 (client A, election muni26) sent to NUMBER and failed; it replied STOP."""
    path = tmp_path / "c.csv"
    path.write_text("phone,consent_source,consent_date,consent_slot\n"
                    "06 12 00 00 01,formulaire web,2024-01-02,lun-ven 10h-13h\n"
                    "0612000002,bulletin,2024-01-03,\n")
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "worker")
    with trio.fail_after(10):
        await enqueue_file(redis, settings, path, "a1", "Bonjour. " + SIGNED,
                           exclusivity=Exclusivity("A", "muni26"), rules=RULES)
        entries = await queue.read_new(["a1"], 10, 100)
        await queue.admit("a1", [(entries[0].entry_id, NUMBER)])
        await queue.record("a1", [Outcome(entries[0].entry_id, NUMBER, "f", "absent")])
        await ReplyHandler(queue, lambda: ["a1"], texts=answer_texts(AnswerSettings())).handle(
            [InboundMessage("0612000001", "DISPATCH", "STOP", "http")])  # and a confirmation


async def test_provenance_json_shape(redis: Redis, settings: Settings, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    await prepare(redis, settings, tmp_path)
    cfg = config(tmp_path, settings)
    assert await trio.to_thread.run_sync(
        command, provenance_command, "provenance", "06 12 00 00 01", "--json", "--config",
        cfg) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found) == {"number", "campaigns", "opt_out", "audit", "replies", "answers",
                          "reservations", "calls_last_days"}
    assert found["calls_last_days"] == {"days": 30, "calls": 0}  # an SMS campaign's number
    assert found["number"] == NUMBER
    [campaign] = found["campaigns"]
    created = campaign.pop("created_at")
    assert isinstance(created, int)
    assert campaign == {"campaign": "a1", "client": "A", "election": "muni26",
                        "consent_required": True, "state": "failed", "failure": "absent",
                        "consent": {"source": "formulaire web", "date": "2024-01-02",
                                    "slot": "lun-ven 10h-13h"}}
    assert found["opt_out"]["opted_out"] is True
    assert list(found["opt_out"]["scopes"]) == ["line:DISPATCH"]
    assert found["opt_out"]["hashed_scopes"] == ["line:DISPATCH"]
    [audit] = found["audit"]
    assert (audit["action"], audit["number"], audit["campaign"]) == ("opt_out", NUMBER, "a1")
    [reply] = found["replies"]
    assert (reply["source"], reply["text"], reply["intent"]) == ("0612000001", "STOP",
                                                                 "opt_out")
    assert found["reservations"] == {"muni26": "A"}
    [answer] = found["answers"]
    assert (answer["line"], answer["reason"], answer["result"]) == (
        "DISPATCH", "optout_confirmation", "pending")


async def test_provenance_lists_the_answers_sent(redis: Redis, settings: Settings,
                                                tmp_path: Path) -> None:
    await prepare(redis, settings, tmp_path)
    keys = Keys(settings.redis.key_prefix)
    queue = Queue(redis, keys, "worker")
    with trio.fail_after(10):
        await queue.answers.ensure_group()
        [queued] = await queue.answers.read(10, 100)
        await queue.answers.settle([Settled(queued, "sent", "gw-9")],
                                   await queue.optouts.secret())
        found = await provenance(redis, keys, NUMBER)
    [answer] = found["answers"]
    assert (answer["line"], answer["reason"], answer["result"], answer["detail"]) == (
        "DISPATCH", "optout_confirmation", "sent", "gw-9")
    assert NUMBER not in json.dumps(answer)


async def test_provenance_human_report(redis: Redis, settings: Settings, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    await prepare(redis, settings, tmp_path)
    cfg = config(tmp_path, settings)
    assert await trio.to_thread.run_sync(
        command, provenance_command, "provenance", NUMBER, "--config", cfg) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Number {NUMBER}\n")
    assert "  a1 (client A, election muni26; created " in out
    assert "    message: failed — absent" in out
    assert "    consent: source formulaire web, given 2024-01-02, slot lun-ven 10h-13h" in out
    assert "Replies received: 1" in out
    assert "Answers to it (HELP, opt-out confirmation): 1" in out
    assert "from DISPATCH: optout_confirmation, pending" in out
    assert "Reservations: election muni26 for client A" in out


async def test_provenance_of_an_unknown_number_is_empty(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, settings)
    await trio.to_thread.run_sync(command, provenance_command, "provenance", "0699999999",
                                  "--json", "--config", cfg)
    found = json.loads(capsys.readouterr().out)
    assert (found["campaigns"], found["audit"], found["replies"], found["reservations"]) == (
        [], [], [], {})
    with pytest.raises(UserError, match="'12': invalid phone number"):
        command(provenance_command, "provenance", "12", "--config", cfg)


async def test_purge_command(redis: Redis, settings: Settings, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    await prepare(redis, settings, tmp_path)
    cfg = config(tmp_path, settings)
    with pytest.raises(UserError, match="'a1' still has 1 queued and 0 in-flight messages"):
        await trio.to_thread.run_sync(command, purge_command, "purge", "--campaign", "a1",
                                      "--config", cfg)
    assert await trio.to_thread.run_sync(command, purge_command, "purge", "--campaign", "a1",
                                         "--force", "--json", "--config", cfg) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["campaign"], report["numbers"], report["unsent"], report["replies"]) == (
        "a1", 2, 1, 1)
    await trio.to_thread.run_sync(command, provenance_command, "provenance", NUMBER, "--json",
                                  "--config", cfg)
    found = json.loads(capsys.readouterr().out)
    assert found["campaigns"] == [] and found["replies"] == [] and found["answers"] == []
    assert found["opt_out"]["hashed_scopes"] == ["line:DISPATCH"]  # the STOP holds
    assert found["reservations"] == {}  # the election's last campaign is gone


async def test_provenance_of_a_number_suppressed_at_load_shows_its_consent(
        redis: Redis, settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone,consent_source,consent_date\n"
                    "06 12 00 00 01,formulaire web,2024-01-02\n0612000002,bulletin,2024-01-03\n")
    cfg = config(tmp_path, settings)
    with trio.fail_after(10):
        await OptOutStore(redis, Keys(settings.redis.key_prefix)).add(
            [OptOutEvent(NUMBER, "all", "cli")])
        report = await enqueue_file(redis, settings, path, "s1", "Bonjour. " + SIGNED,
                                    rules=RULES)
        assert (report.accepted, report.suppressed) == (1, 1)
        assert await trio.to_thread.run_sync(
            command, provenance_command, "provenance", NUMBER, "--json", "--config", cfg) == 0
        [campaign] = json.loads(capsys.readouterr().out)["campaigns"]
        assert await trio.to_thread.run_sync(
            command, provenance_command, "provenance", NUMBER, "--config", cfg) == 0
    assert (campaign["campaign"], campaign["state"]) == ("s1", "suppressed")
    assert campaign["consent"] == {"source": "formulaire web", "date": "2024-01-02",
                                   "slot": None}
    out = capsys.readouterr().out
    assert "    message: suppressed\n    consent: source formulaire web, given 2024-01-02\n" \
        in out
