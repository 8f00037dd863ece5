"""The vocabulary's state codes and the Lua scripts' prelude say the same thing."""

from __future__ import annotations

import re

from dispatch.store.scripts import load_script
from dispatch.vocabulary import ALL_STATES, FINAL_STATES, STATE_CODES, StateCode


def _lua_table(name: str) -> dict[str, str]:
    """`local NAME = {k = 'v', ...}` of the prelude, as a dict."""
    body = re.search(rf"local {name} = \{{(.*?)\}}", load_script("_states"), re.S)
    assert body is not None, f"{name} is not in _states.lua"
    return dict(re.findall(r"(\w+) = '?(\w+)'?", body.group(1)))


def test_the_prelude_names_every_state_code_as_the_vocabulary_does() -> None:
    assert _lua_table("STATE_NAMES") == {code.value: code.state for code in StateCode}


def test_the_prelude_has_the_vocabulary_s_final_states() -> None:
    final = {code for code, flag in _lua_table("FINAL").items() if flag == "true"}
    assert final == {code.value for code in StateCode if code.final}


def test_state_names_and_codes_agree() -> None:
    assert STATE_CODES == {"queued": "q", "in_flight": "i", "submitted": "s", "delivered": "d",
                           "failed": "f", "expired": "x", "suppressed": "p", "cancelled": "c"}
    assert ALL_STATES[0] == "queued" and set(ALL_STATES) == set(STATE_CODES)
    assert {"delivered", "failed", "expired", "suppressed", "cancelled"} == FINAL_STATES
    assert StateCode.SUBMITTED == "s" and not StateCode.SUBMITTED.final


SCRIPTS = ("admit", "cancel", "enqueue", "record", "receipt_apply", "purge_mark")
# Where a script names a state by its code: compared with a state, or written.
_CODE_USES = re.compile(r"(?:state|outcome) == '(\w)'|move\([^)]*'(\w)'\)|HSETNX'[^)]*'(\w)'\)")


def test_every_state_code_a_script_names_is_the_vocabulary_s() -> None:
    named = {code for name in SCRIPTS for found in _CODE_USES.findall(load_script(name))
             for code in found if code}
    assert named and named <= {code.value for code in StateCode}
