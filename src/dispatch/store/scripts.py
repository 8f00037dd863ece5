"""Lua scripts shipped in dispatch/store/lua, read as package resources."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def load_script(name: str) -> str:
    """The source of store/lua/NAME.lua."""
    return (resources.files("dispatch.store") / "lua" / f"{name}.lua").read_text(encoding="utf-8")
