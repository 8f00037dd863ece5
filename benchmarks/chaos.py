"""The chaos scenario (issue 17): a campaign through every fault, then the ledger.

    .venv/bin/python benchmarks/chaos.py --gateway smpp   # writes results/chaos_smpp.json
    .venv/bin/python benchmarks/chaos.py --gateway http

During a 200,000-message campaign over one line at 1,500 messages/s (about 133 s without
faults): the daemon SIGKILLed 5 times (restarted 2 s later, as systemd would), Redis
SIGKILLed once (AOF everysec) and restarted, Redis stopped for 30 s, the gateway
throttling 30 % for 20 s, SMPP connections dropped every 15 s, answers stalled 5 s, and
400 STOPs (4 a second) for numbers still queued. The ledger at the end: enqueued, final,
lost (must be 0), duplicates at the gateway (HTTP 0; SMPP bounded), sends after STOP (0),
line violations (0); the recovery after each fault; each STOP's delay from the gateway's
sending to the daemon's acknowledgement, in calm and overall. See
dispatch.bench.chaos for what each part does. Not run by the tests (tests/e2e/test_chaos.py
runs a short one). The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import trio

from dispatch.bench.chaos.run import ChaosOptions, run_chaos

RESULTS = Path(__file__).parent / "results"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", choices=("smpp", "http"), default="smpp")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=1_500.0, help="the line's messages/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the logs in this folder")
    parser.add_argument("--json", type=Path, help="where to write the result "
                        "(default: benchmarks/results/chaos_<gateway>.json)")
    return parser.parse_args()


def main() -> None:
    args = parse()
    options = ChaosOptions(gateway=args.gateway, messages=args.messages, rate=args.rate,
                           seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        workdir = args.keep or Path(folder)
        workdir.mkdir(parents=True, exist_ok=True)
        report = {"command": f"python benchmarks/chaos.py --gateway {args.gateway} "
                  f"--messages {args.messages} --rate {args.rate:g} --seed {args.seed}",
                  **trio.run(run_chaos, options, workdir)}
    text = json.dumps(report, indent=2)
    print(text)
    (args.json or RESULTS / f"chaos_{args.gateway}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
