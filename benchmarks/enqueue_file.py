"""Benchmark: `dispatch enqueue` of a generated N-row CSV into a throwaway Redis.

    .venv/bin/python benchmarks/enqueue_file.py --rows 1000000

Measures rows/s of the whole load (read, validate, normalise, dedupe, consent records,
one Lua call per batch), the peak RSS of this process and Redis bytes per queued message,
and writes the result as JSON to benchmarks/results/enqueue_<rows>.json. Rows carry
consent columns (a few sources, two years of dates); `--no-consent` writes none and loads
the campaign with consent not required, to measure what consent records add.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import tempfile
import time
from pathlib import Path

import trio

from dispatch.enqueue import TextRules, enqueue_file
from dispatch.gc_tuning import tune_for_batches
from dispatch.settings import RedisSettings, Settings
from dispatch.store.redis import open_redis
from dispatch.store.server import ensure_embedded, stop_embedded
from dispatch.store.status import used_memory

RESULTS = Path(__file__).parent / "results"
TEXT = "Bonjour {first_name}, votre bureau de vote est ouvert dimanche. Parti X. STOP au 36111"
RULES = TextRules(sender="Parti X")  # the party the text names
SOURCES = ("formulaire web example.fr", "bulletin papier réunion publique",
           "application militants", "pétition en ligne")
FIRST_DAY = dt.date(2024, 1, 1)


def write_csv(path: Path, rows: int, consent: bool) -> None:
    """Distinct mainland mobiles, 1 % written again in another format (duplicates)."""
    rng = random.Random(1)
    with path.open("w") as out:
        out.write("phone,first_name,consent_source,consent_date\n" if consent
                  else "phone,first_name\n")
        previous = ""
        for index, suffix in enumerate(rng.sample(range(40_000_000), rows)):
            number = f"06{'1245'[suffix // 10_000_000]}{suffix % 10_000_000:07d}"
            if index % 100 == 99:  # the previous row's number, written the other way
                number = "+33 " + previous[1:]
            previous = number
            if consent:
                day = FIRST_DAY + dt.timedelta(days=suffix % 730)
                out.write(f"{number},Camille,{SOURCES[suffix % 4]},{day.isoformat()}\n")
            else:
                out.write(f"{number},Camille\n")


async def measure(rows: int, workdir: Path, consent: bool) -> dict[str, float | int | bool]:
    csv = workdir / "campaign.csv"
    write_csv(csv, rows, consent)
    url = await ensure_embedded(workdir / "state")
    settings = Settings(redis=RedisSettings(url=url), state_dir=str(workdir / "state"))
    try:
        async with open_redis(settings) as redis:
            started = time.perf_counter()
            report = await enqueue_file(redis, settings, csv, "bench", TEXT,
                                        consent_required=consent, rules=RULES)
            elapsed = time.perf_counter() - started
            memory = await used_memory(redis)
    finally:
        await stop_embedded(workdir / "state")
    return {"rows": report.rows, "consent": consent, "accepted": report.accepted,
            "duplicates": report.duplicates, "rejected": report.rejected,
            "elapsed_s": round(elapsed, 2), "rows_per_second": round(report.rows / elapsed),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "redis_bytes_per_message": round(memory / report.accepted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-consent", dest="consent", action="store_false",
                        help="rows without consent columns (the campaign not requiring it)")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the result (default: "
                             "benchmarks/results/enqueue_<rows>[_no_consent].json)")
    args = parser.parse_args()
    tune_for_batches()  # as `dispatch enqueue` runs
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as folder:
        result = trio.run(measure, args.rows, Path(folder), args.consent)
    suffix = "" if args.consent else "_no_consent"
    output: Path = args.output or RESULTS / f"enqueue_{args.rows}{suffix}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
