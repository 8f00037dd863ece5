"""Key names in SCAN MATCH patterns."""

from __future__ import annotations

import re

_GLOB = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    """`text` matched literally in a SCAN MATCH pattern."""
    return _GLOB.sub(r"\\\1", text)
