"""Fuzz tests: which profile runs, and the count of inputs per target (FUZZ_STATS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fuzz.profiles import INPUTS, PROFILE, fuzz  # noqa: F401 - registers the profiles


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzz: hypothesis profile {PROFILE!r} (HYPOTHESIS_PROFILE=ci|long)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("FUZZ_STATS")
    if path:
        counts = dict(sorted(INPUTS.items()))
        Path(path).write_text(json.dumps({"profile": PROFILE, "inputs": counts,
                                          "total": sum(counts.values())}, indent=1) + "\n")
