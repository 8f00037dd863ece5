"""The Messages API in process: the Simulator on port 0, httpx as dispatch's twilio
gateway, a small server as dispatch's inbound port checking every signature."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import httpx
import trio

from dispatch.httpserver import Request, Response, serve_http
from dispatch.signing import TWILIO_HEADER, verify_twilio
from dispatch.simulator import Simulator, SimulatorConfig

ACCOUNT, TOKEN = "AC0123", "secret-token"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
LINE = "+33700000001"
FINAL = {"delivered", "undelivered", "failed"}


class Daemon:
    """Dispatch's inbound port: keeps each post, and whether its signature held."""

    def __init__(self) -> None:
        self.statuses: defaultdict[str, list[str]] = defaultdict(list)
        self.inbound: list[dict[str, str]] = []
        self.badly_signed = 0
        self.base = ""  # set once listening

    async def __call__(self, request: Request) -> Response:
        url = f"{self.base}{request.path}" + (f"?{request.query}" if request.query else "")
        fields = parse_qsl(request.body.decode(), keep_blank_values=True)
        header = request.headers.get(TWILIO_HEADER.lower())
        self.badly_signed += verify_twilio(TOKEN, url, fields, header) is not None
        form = dict(fields)
        if request.path.endswith("/inbound"):
            self.inbound.append(form)
            return Response(200, b"<Response/>", "application/xml")
        self.statuses[form["MessageSid"]].append(form["MessageStatus"])
        return Response(200)


@asynccontextmanager
async def running(sim: Simulator, daemon: Daemon
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with trio.open_nursery() as nursery:
        callback_port = await nursery.start(serve_http, daemon, "127.0.0.1", 0)
        daemon.base = f"http://127.0.0.1:{callback_port}"
        port = await nursery.start(sim.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     auth=(ACCOUNT, TOKEN)) as client:
            yield client, f"{daemon.base}/twilio/sms/status?gateway=sms"
        nursery.cancel_scope.cancel()


def simulator(**knobs: Any) -> Simulator:
    knobs = {"http_port": 0, "seed": 5, "voice_accounts": {ACCOUNT: TOKEN},
             "receipt_delay_ms": 20, **knobs}
    return Simulator(SimulatorConfig(**knobs))


def message(to: str, callback: str, text: str = "Votez le 11 avril. STOP au 36111"
            ) -> dict[str, str]:
    return {"To": to, "From": LINE, "Body": text, "StatusCallback": callback}


async def settle(sim: Simulator) -> dict[str, Any]:
    """The Messages API's stats once nothing is left to post."""
    while True:
        twilio: dict[str, Any] = sim.stats()["twilio"]
        if not twilio["callbacks"]["pending"]:
            return twilio
        await trio.sleep(0.01)


async def test_each_message_gets_a_sid_and_its_statuses_posted_signed() -> None:
    sim, daemon = simulator(outcomes={"delivered": 2, "undeliverable": 1, "rejected": 1}), \
        Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            answers = [await client.post(MESSAGES, data=message(f"+336{i:08d}", callback))
                       for i in range(40)]
            twilio = await settle(sim)
    assert {a.status_code for a in answers} == {201}
    sids = [a.json()["sid"] for a in answers]
    assert all(re.fullmatch(r"SM[0-9a-f]{32}", sid) for sid in sids)
    assert {a.json()["status"] for a in answers} == {"queued"}
    assert set(daemon.statuses) == set(sids) and daemon.badly_signed == 0
    for posted in daemon.statuses.values():  # one final status each, "sent" unless failed
        assert len([s for s in posted if s in FINAL]) == 1
        assert sorted(posted) in (["delivered", "sent"], ["sent", "undelivered"], ["failed"])
    assert (twilio["accepted"], twilio["duplicates"], twilio["numbers"]) == (40, 0, 40)
    assert twilio["messages_per_number"] == {"1": 40}
    assert sum(twilio["outcomes"].values()) == 40 and sim.stats()["accepted"] == 40


async def test_the_same_message_sent_again_is_a_second_sms_counted_a_duplicate() -> None:
    sim, daemon = simulator(), Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            first = await client.post(MESSAGES, data=message("+33612345678", callback))
            again = await client.post(MESSAGES, data=message("+33612345678", callback))
            twilio = await settle(sim)
    assert first.json()["sid"] != again.json()["sid"]  # no idempotency key in this API
    assert (twilio["accepted"], twilio["duplicates"]) == (2, 1)
    assert twilio["messages_per_number"] == {"2": 1} and sim.stats()["duplicates"] == 1


async def test_credentials_are_checked_and_refusals_have_the_provider_s_shape() -> None:
    sim, daemon = simulator(), Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            wrong = await client.post(MESSAGES, data=message("+33612345678", callback),
                                      auth=(ACCOUNT, "nope"))
            other = await client.post("/2010-04-01/Accounts/AC9/Messages.json",
                                      data=message("+33612345678", callback))
            invalid = await client.post(MESSAGES, data=message("0612345678", callback))
    assert (wrong.status_code, wrong.json()) == (401, {
        "code": 20003, "message": "Authenticate", "status": 401,
        "more_info": "https://www.twilio.com/docs/errors/20003"})
    assert other.status_code == 401
    assert (invalid.status_code, invalid.json()["code"]) == (400, 21211)
    assert sim.stats()["twilio"]["refused"] == 3


async def test_faults_are_the_http_side_s_throttling_errors_and_lost_answers() -> None:
    sim, daemon = simulator(error_429=1.0), Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            throttled = await client.post(MESSAGES, data=message("+33612345678", callback))
    assert (throttled.status_code, throttled.json()["code"]) == (429, 20429)
    assert throttled.headers["retry-after"] == "1"
    sim, daemon = simulator(lost_response=1.0), Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            lost = await client.post(MESSAGES, data=message("+33612345678", callback))
            twilio = await settle(sim)
    assert (lost.status_code, lost.json()["code"]) == (503, 20503)
    # Created all the same: its statuses are posted, as the provider's would be.
    assert (twilio["accepted"], twilio["lost_responses"]) == (1, 1)
    assert len(daemon.statuses) == 1


async def test_a_stop_is_posted_to_the_webhook_signed_and_the_provider_then_enforces_it(
        ) -> None:
    sim, daemon = simulator(), Daemon()
    number = "+33612345678"
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, callback):
            early = await client.post("/twilio/mo", json={"from": number, "to": LINE,
                                                          "text": "STOP"})
            await client.post(MESSAGES, data=message(number, callback))
            stop = await client.post("/twilio/mo", json={"from": number, "to": LINE,
                                                         "text": "STOP"})
            await settle(sim)
            refused = await client.post(MESSAGES, data=message(number, callback))
            elsewhere = await client.post(MESSAGES, data=message("+33699999999", callback))
            await client.post("/twilio/mo", json={"from": number, "to": LINE,
                                                  "text": "START"})
            await settle(sim)
            again = await client.post(MESSAGES, data=message(number, callback))
            twilio = await settle(sim)
    assert early.status_code == 409  # no webhook known before a message named one
    assert (stop.status_code, stop.json()["url"]) == (
        202, callback.replace("/status?", "/inbound?"))
    [posted_stop, _] = daemon.inbound
    assert {k: posted_stop[k] for k in ("From", "To", "Body", "AccountSid")} == {
        "From": number, "To": LINE, "Body": "STOP", "AccountSid": ACCOUNT}
    assert daemon.badly_signed == 0
    assert (refused.status_code, refused.json()["code"]) == (400, 21610)
    assert (elsewhere.status_code, again.status_code) == (201, 201)
    assert twilio["unsubscribed"] == 1 and twilio["mo"] == {
        "queued": 2, "acknowledged": 2, "failed": 0}
    assert sim.stats()["stops_acknowledged"] == 1


def test_the_command_takes_the_twilio_flags() -> None:
    from dispatch.cli import build_parser
    from dispatch.commands.simulator import config_from

    args = build_parser().parse_args([
        "simulator", "--twilio-account", f"{ACCOUNT}:{TOKEN}",
        "--twilio-inbound-url", "http://127.0.0.1:9/twilio/sms/inbound"])
    config = config_from(args)
    assert config.voice_accounts == {ACCOUNT: TOKEN}
    assert config.twilio_inbound_url == "http://127.0.0.1:9/twilio/sms/inbound"
