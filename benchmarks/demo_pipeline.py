"""Benchmark: the whole pipeline end to end, as `dispatch demo` runs it.

    .venv/bin/python benchmarks/demo_pipeline.py --count 100000

Enqueue → daemon → HTTP simulator (batch submissions) → receipts recorded, each a separate
process on this machine; the rate counts messages that reached a final state (delivered,
failed or expired) per second of wall time from the start of the enqueue. Writes
benchmarks/results/demo_<count>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    completed = subprocess.run(
        [sys.executable, "-m", "dispatch", "demo", "--count", str(args.count), "--json"],
        check=True, capture_output=True, text=True)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"demo_{args.count}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
