"""The real tools the deployment tests run (promtool, prometheus, systemd-analyze,
shellcheck…): found on PATH, or the test fails saying which Debian package brings it.
Never a skip: CI installs them (.ci/run)."""

from __future__ import annotations

import shutil

import pytest


def real_tool(name: str, package: str) -> str:
    """The path of `name`; a failure naming `package` when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: these tests run the real tool "
                    f"(Debian/Ubuntu: apt-get install {package}, as .ci/run does)")
    return path
