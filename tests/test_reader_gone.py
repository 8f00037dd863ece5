"""`dispatch optout export | head`: the reader stops early, the command ends quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dispatch.cli import main
from tests.test_enqueue_cli import config

__all__ = ["config"]  # a fixture


def test_export_into_a_reader_that_stops_early_ends_quietly(config: Path,
                                                            tmp_path: Path) -> None:
    listing = tmp_path / "stops.csv"
    # More than a pipe holds (64 KiB), so the export writes after the reader has gone.
    listing.write_text("phone\n" + "".join(f"06{30_000_000 + i:08d}\n" for i in range(5_000)))
    assert main(["optout", "import", str(listing), "--config", str(config)]) == 0
    export = subprocess.Popen(
        [sys.executable, "-m", "dispatch", "optout", "export", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.readline()
    export.stdout.close()  # what `head -1` does
    try:
        code = export.wait(timeout=60)
        errors = export.stderr.read().decode()
    finally:
        export.kill()
    assert first == b"number,scope,since,kept_as\r\n"
    assert (code, errors) == (0, "")
