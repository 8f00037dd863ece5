"""config/dispatch.example.toml as an operator reads it, and with its commented-out gateway
examples switched on (every `# [gateways.NAME]` table and its `# key = value` lines)."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLE = Path(__file__).parent.parent / "config" / "dispatch.example.toml"
_TABLE = re.compile(r"^# (\[gateways\.[a-z_]+\])")
_KEY = re.compile(r"^# ([a-z_]+ = .*)$")


def with_examples_on(path: Path) -> Path:
    """Write to `path` the example with every commented gateway example uncommented (the
    other comments dropped); returns `path`."""
    lines: list[str] = []
    in_example = False
    for line in EXAMPLE.read_text().splitlines():
        if match := _TABLE.match(line):
            in_example = True
            lines.append(match.group(1))
        elif line.startswith("["):
            in_example = False
            lines.append(line)
        elif in_example and (match := _KEY.match(line)):
            lines.append(match.group(1))
        elif not line.startswith("#"):
            lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path
