"""The voice side in process: the Simulator on port 0, httpx as dispatch's voice gateway,
a small callback server (or a MockTransport) as dispatch's inbound port."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import httpx
import trio

from dispatch.httpserver import Request, Response, serve_http
from dispatch.simulator import Simulator, SimulatorConfig

ACCOUNT, TOKEN = "AC0123", "secret"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


def script(base: str) -> str:
    return (f'<Response><Gather numDigits="1" action="{base}/voice/gather" method="POST">'
            '<Say language="fr-FR">Tapez 9 pour ne plus être appelé</Say>'
            '<Play>http://audio/m.mp3</Play></Gather></Response>')


def call_form(base: str, to: str, line: str) -> dict[str, Any]:
    return {"To": to, "From": line, "Twiml": script(base), "MachineDetection": "Enable",
            "StatusCallback": f"{base}/voice/status", "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": "completed", "Timeout": "30"}


def form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body.decode()).items()}


class Daemon:
    """Dispatch's inbound port: records status callbacks and acknowledges the 9s."""

    def __init__(self) -> None:
        self.statuses: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.gathers: list[dict[str, str]] = []

    async def __call__(self, request: Request) -> Response:
        fields = form(request.body)
        if request.path == "/voice/gather":
            self.gathers.append(fields)
            return Response(200, b"<Response><Say>OK</Say><Hangup/></Response>", "text/xml")
        self.statuses[fields["CallSid"]].append(fields)
        return Response(200)


@asynccontextmanager
async def running(sim: Simulator, daemon: Daemon | None = None
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with trio.open_nursery() as nursery:
        callback_port = await nursery.start(serve_http, daemon or Daemon(), "127.0.0.1", 0)
        port = await nursery.start(sim.serve)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     auth=(ACCOUNT, TOKEN)) as client:
            yield client, f"http://127.0.0.1:{callback_port}"
        nursery.cancel_scope.cancel()


def simulator(transport: httpx.AsyncBaseTransport | None = None, **knobs: Any) -> Simulator:
    knobs = {"http_port": 0, "seed": 5, "voice_accounts": {ACCOUNT: TOKEN},
             "call_ring_ms": 20, "call_ring_jitter_ms": 10, "call_duration_ms": 60,
             "call_duration_jitter_ms": 30, **knobs}
    return Simulator(SimulatorConfig(**knobs), transport)


async def settle(sim: Simulator) -> dict[str, Any]:
    """The voice stats once no call is in progress and no callback pending."""
    while True:
        voice: dict[str, Any] = sim.stats()["voice"]
        if not voice["active"] and not voice["callbacks"]["pending"]:
            return voice
        await trio.sleep(0.01)


async def test_every_call_ends_with_one_final_callback_and_nines_are_counted() -> None:
    sim, daemon = simulator(dtmf_rate=0.5), Daemon()
    with trio.fail_after(20):
        async with running(sim, daemon) as (client, base):
            sids = []
            for i in range(80):
                reply = await client.post(CALLS, data=call_form(base, f"+336{i:08d}",
                                                                f"+331{i:08d}"),
                                          headers={"Idempotency-Key": f"m{i}/1"})
                assert reply.status_code == 201, reply.text
                sids.append(reply.json()["sid"])
            voice = await settle(sim)
            # A call to a number whose 9 was acknowledged, from another line.
            opted = daemon.gathers[0]["To"]
            reply = await client.post(CALLS, data=call_form(base, opted, "+33200000000"))
            assert reply.status_code == 201
            after = await settle(sim)
    assert set(daemon.statuses) == {*sids, reply.json()["sid"]}
    for sid in sids:
        (final,) = daemon.statuses[sid]  # exactly one: only `completed` was asked
        assert final["CallStatus"] in FINAL and final["AccountSid"] == ACCOUNT
    pressed = {g["CallSid"] for g in daemon.gathers}
    assert pressed and all(g["Digits"] == "9" for g in daemon.gathers)
    for sid in pressed:
        assert daemon.statuses[sid][0]["AnsweredBy"] == "human"
    assert voice["placed"] == sum(voice["outcomes"].values()) == 80
    assert voice["opted_out"] == len(daemon.gathers) == len(pressed)
    assert voice["callbacks"] == {"sent": 80 + len(pressed), "failed": 0, "pending": 0}
    assert voice["outcomes"]["human"] > 0 and voice["outcomes"]["machine"] > 0
    assert after["called_after_optout"] == 1 and voice["called_after_optout"] == 0


async def test_progress_events_in_order_when_asked() -> None:
    sim, daemon = simulator(call_outcomes={"human": 1}), Daemon()
    with trio.fail_after(10):
        async with running(sim, daemon) as (client, base):
            data = call_form(base, "+33612345678", "+33100000001")
            data["StatusCallbackEvent"] = ["initiated", "ringing", "answered", "completed"]
            sid = (await client.post(CALLS, data=data)).json()["sid"]
            await settle(sim)
    posted = sorted(daemon.statuses[sid], key=lambda f: int(f["SequenceNumber"]))
    assert [f["CallStatus"] for f in posted] == ["initiated", "ringing", "in-progress",
                                                 "completed"]


async def test_refusals_over_http_with_their_codes() -> None:
    sim = simulator(voice_cps=3)
    with trio.fail_after(10):
        async with running(sim) as (client, base):
            def post(to: str = "+33612345678", line: str = "L1", **kw: Any
                     ) -> Any:
                return client.post(CALLS, data=call_form(base, to, line), **kw)

            assert (await post()).status_code == 201
            busy = await post("+33699999999")
            assert (busy.status_code, busy.json()) == (
                409, {"code": 20409, "message": "line busy", "status": 409,
                      "more_info": "https://www.twilio.com/docs/errors/20409"})
            assert (await post(line="L2")).status_code == 201
            assert (await post(line="L3")).status_code == 201
            throttled = await post(line="L4")
            assert (throttled.status_code, throttled.json()["code"]) == (429, 20429)
            invalid = await post("0612345678", line="L5")
            assert (invalid.status_code, invalid.json()["code"]) == (400, 21211)
            wrong = await post(line="L6", auth=(ACCOUNT, "nope"))
            assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)
            other = await client.post("/2010-04-01/Accounts/AC9/Calls.json",
                                      data=call_form(base, "+33612345678", "L7"))
            assert other.status_code == 401
            assert (await client.get(CALLS)).status_code == 405
            assert (await client.post("/2010-04-01/Accounts/AC0123/Queues.json")
                    ).status_code == 404
            voice = (await client.get("/stats")).json()["voice"]
    assert {k: voice[k] for k in ("placed", "line_violations", "throttled", "rejected")} == {
        "placed": 3, "line_violations": 1, "throttled": 1, "rejected": 3}


async def test_a_repeated_key_is_replayed_and_without_idempotency_duplicated() -> None:
    for idempotent, expected in ((True, (1, 1, 0)), (False, (2, 0, 1))):
        sim = simulator(voice_idempotency=idempotent)
        with trio.fail_after(10):
            async with running(sim) as (client, base):
                key = {"Idempotency-Key": "m1/1"}
                data = call_form(base, "+33612345678", "L1")
                first = await client.post(CALLS, data=data, headers=key)
                again = await client.post(CALLS, data=data, headers=key)
                voice = await settle(sim)
        assert first.status_code == 201
        if idempotent:
            assert (again.status_code, again.json()) == (200, first.json())
        else:
            assert again.status_code == 201 and again.json()["sid"] != first.json()["sid"]
        assert (voice["placed"], voice["replays"], voice["duplicates"]) == expected


async def test_refused_callbacks_are_retried_then_counted_failed() -> None:
    attempts: defaultdict[str, int] = defaultdict(int)

    def handler(request: httpx.Request) -> httpx.Response:
        sid = form(request.content)["CallSid"]
        attempts[sid] += 1
        # Even calls' callbacks succeed on the second attempt, odd ones never.
        ok = int(sid[-1], 16) % 2 == 0 and attempts[sid] == 2
        return httpx.Response(200 if ok else 503)

    sim = simulator(httpx.MockTransport(handler), receipt_attempts=3,
                    receipt_retry_base_ms=5, receipt_retry_cap_ms=20)
    with trio.fail_after(10):
        async with running(sim) as (client, _):
            for i in range(6):
                data = call_form("http://daemon.invalid", f"+336{i:08d}", f"L{i}")
                data["Url"], data["Twiml"] = "http://daemon.invalid/twiml", ""
                assert (await client.post(CALLS, data=data)).status_code == 201
            voice = await settle(sim)
    assert voice["callbacks"] == {"sent": 3, "failed": 3, "pending": 0}
    assert sorted(attempts.values()) == [2, 2, 2, 3, 3, 3]


async def test_stats_show_the_voice_book_with_zeros_when_unused() -> None:
    with trio.fail_after(10):
        async with running(simulator()) as (client, _):
            voice = (await client.get("/stats")).json()["voice"]
    assert voice == {"placed": 0, "replays": 0, "duplicates": 0, "line_violations": 0,
                     "throttled": 0, "rejected": 0,
                     "outcomes": dict.fromkeys(["human", "machine", "no_answer", "busy",
                                                "failed", "invalid"], 0),
                     "opted_out": 0, "called_after_optout": 0, "active": 0,
                     "callbacks": {"sent": 0, "failed": 0, "pending": 0}}
