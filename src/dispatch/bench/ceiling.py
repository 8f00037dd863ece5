"""The raw ceiling: the daemon's own gateway client blasting the simulator, no queue.

    python -m dispatch.bench.ceiling --gateway smpp --port 2775 --messages 100000 \
        --batch-size 100 --concurrency 8 --binds 2 --window 100

Same protocol, same client code (HttpGateway / SmppGateway), same batch size, concurrency,
binds and window as the daemon, but no Redis: `concurrency` tasks submit slices of a
prepared list, and receipts are only counted (HTTP: a bare receipt endpoint in this
process; SMPP: an Inbound that acknowledges them). The rate is messages/s from the first
submission to the last receipt, as the daemon's is. Prints one JSON object.

With `--lines K --line-rate R`, message i goes out from line i mod K and the run is
paced at 90 % of K x R: what a perfect round robin over the lines achieves.
"""

from __future__ import annotations

import argparse
import json
import resource
from collections.abc import Iterator, Sequence
from typing import Any

import trio

from dispatch.app import build_gateway
from dispatch.bench.services import ACCOUNT, SENDER, line_address
from dispatch.bench.workload import campaign_text, e164_number, rendered
from dispatch.gateways.base import Gateway
from dispatch.gateways.smpp.gateway import SmppGateway
from dispatch.gc_tuning import tune_for_batches
from dispatch.httpserver import Request, Response, json_response, serve_http
from dispatch.settings import GatewaySettings
from dispatch.vocabulary import (
    Accepted,
    CallEnded,
    InboundMessage,
    Keypress,
    Outbound,
    Receipt,
)

MAX_ROUNDS = 100  # a message the simulator keeps refusing is given up after this many tries
RECEIPT_WAIT_S = 60.0  # after the last acceptance
BIND_WAIT_S = 10.0
# With lines, the whole run is paced at this share of their capacity: each line's turn
# then comes 10 % after its bucket refilled, room for the jitter of concurrent batches.
LINE_HEADROOM = 0.9
BIND_POLL_S = 0.01


class ReceiptCounter:
    """An `Inbound` that only counts (and so, over SMPP, acknowledges) receipts; also the
    HTTP receipt endpoint."""

    def __init__(self) -> None:
        self.received = 0
        self._changed = trio.Event()

    def _count(self, count: int) -> None:
        self.received += count
        self._changed.set()
        self._changed = trio.Event()

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        self._count(len(receipts))

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        return None

    def not_recorded(self, kind: str, count: int = 1) -> None:
        return None

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        self._count(len(ended))

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        return None

    async def handle(self, request: Request) -> Response:
        """POST /receipts from the HTTP simulator: a JSON list of receipts."""
        body = request.json()
        self._count(len(body) if isinstance(body, list) else 0)
        return json_response({"ok": True})

    async def wait_for(self, count: int) -> None:
        while self.received < count:
            await self._changed.wait()


def gateway_settings(args: argparse.Namespace) -> GatewaySettings:
    shape = {"batch_size": args.batch_size, "concurrency": args.concurrency,
             "sender": SENDER}
    if args.gateway == "http":
        return GatewaySettings(type="http", url=f"http://127.0.0.1:{args.port}", **shape)
    ton = 1 if args.lines else 5  # as the daemon's: numbers are international, BENCH is not
    return GatewaySettings(type="smpp", port=args.port, system_id=ACCOUNT[0],
                           password=ACCOUNT[1], binds=args.binds, window=args.window,
                           source_ton=ton, source_npi=1 if args.lines else 0, **shape)


def make_gateway(args: argparse.Namespace, callback_url: str) -> Gateway:
    """The gateway as the daemon builds it (the composition root's builder)."""
    return build_gateway("ceiling", gateway_settings(args), callback_url)


def messages(count: int, lines: int, parts: int = 1) -> list[Outbound]:
    """With lines, message i goes out from line i mod `lines` (perfect round robin)."""
    text = rendered(campaign_text(parts))
    return [Outbound(f"ceiling-{index}", e164_number(index),
                     line_address(index % lines) if lines else SENDER, text)
            for index in range(count)]


class Blaster:
    """Submits a list with `concurrency` batches in flight, each task taking the next
    slice; what the gateway did not accept goes round again (bounded)."""

    def __init__(self, gateway: Gateway, concurrency: int, pace: float) -> None:
        self.gateway = gateway
        self.concurrency = concurrency
        self.pace = pace  # messages/s in all (0: as fast as the gateway takes them)
        self.accepted = 0
        self._round_start = 0.0

    async def send(self, outbound: list[Outbound]) -> int:
        pending = outbound
        for _ in range(MAX_ROUNDS):
            pending = await self._round(pending)
            if not pending:
                break
        return self.accepted

    async def _round(self, pending: list[Outbound]) -> list[Outbound]:
        refused: list[Outbound] = []
        self._round_start = trio.current_time()
        starts = iter(range(0, len(pending), self.gateway.batch_size))
        async with trio.open_nursery() as nursery:
            for _ in range(self.concurrency):
                nursery.start_soon(self._sender, starts, pending, refused)
        return refused

    async def _sender(self, starts: Iterator[int], pending: list[Outbound],
                      refused: list[Outbound]) -> None:
        size = self.gateway.batch_size
        for start in starts:  # shared: each slice goes to exactly one task
            if self.pace:
                await trio.sleep_until(self._round_start + start / self.pace)
            chunk = pending[start:start + size]
            results = await self.gateway.submit(chunk)
            for message, result in zip(chunk, results, strict=True):
                if isinstance(result, Accepted):
                    self.accepted += 1
                else:
                    refused.append(message)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wait_bound(gateway: Gateway, binds: int) -> None:
    """SMPP: until every submitting bind is up (bounded), so the rate is not measured on
    a half-open pool."""
    if isinstance(gateway, SmppGateway):
        for _ in range(round(BIND_WAIT_S / BIND_POLL_S)):  # the pool has no public event
            if gateway.stats.binds_up >= binds:
                return
            await trio.sleep(BIND_POLL_S)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    counter = ReceiptCounter()
    async with trio.open_nursery() as nursery:
        callback = ""
        if args.gateway == "http":
            port = await nursery.start(serve_http, counter.handle, "127.0.0.1", 0)
            callback = f"http://127.0.0.1:{port}/receipts"
        gateway = make_gateway(args, callback)
        await nursery.start(gateway.run, counter)
        await wait_bound(gateway, args.binds)
        result = await blast(gateway, counter, args)
        await gateway.aclose()
        nursery.cancel_scope.cancel()
    return result


async def blast(gateway: Gateway, counter: ReceiptCounter, args: argparse.Namespace
                ) -> dict[str, Any]:
    outbound = messages(args.messages, args.lines, args.text_parts)
    cpu, started = cpu_s(), trio.current_time()
    pace = args.lines * args.line_rate * LINE_HEADROOM
    accepted = await Blaster(gateway, args.concurrency, pace).send(outbound)
    submitted = trio.current_time() - started
    with trio.move_on_after(RECEIPT_WAIT_S):
        await counter.wait_for(accepted)
    elapsed = trio.current_time() - started
    return {"messages": args.messages, "accepted": accepted, "receipts": counter.received,
            "elapsed_s": round(elapsed, 3), "per_second": round(accepted / elapsed, 1),
            "submit_per_second": round(accepted / submitted, 1) if submitted else None,
            "cpu_s": round(cpu_s() - cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dispatch.bench.ceiling",
                                     description="The raw ceiling of a gateway client.")
    parser.add_argument("--gateway", choices=("http", "smpp"), required=True)
    parser.add_argument("--port", type=int, required=True,
                        help="the simulator's HTTP port (http) or SMPP port (smpp)")
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--lines", type=int, default=0,
                        help="send from this many lines in turn (SMPP source addresses)")
    parser.add_argument("--line-rate", type=float, default=0.0,
                        help="messages/s per line: the run is paced at 90 %% of lines x rate")
    parser.add_argument("--text-parts", type=int, default=1, help="SMS parts of the text")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    tune_for_batches()  # as the daemon runs its gateway client
    print(json.dumps(trio.run(measure, args)), flush=True)


if __name__ == "__main__":
    main()
