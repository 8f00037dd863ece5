"""`dispatch simulator`'s voice flags: to the config, and one line for a bad value."""

from __future__ import annotations

import pytest

from dispatch.cli import build_parser
from dispatch.commands.common import UserError
from dispatch.commands.simulator import config_from


def test_voice_flags_become_a_config() -> None:
    args = build_parser().parse_args([
        "simulator", "--voice-account", "AC1:t1", "--voice-account", "AC2:t2",
        "--call-outcomes", "human=3,busy=1", "--call-ring-ms", "40",
        "--call-ring-jitter-ms", "10", "--call-duration-ms", "90",
        "--call-duration-jitter-ms", "30", "--dtmf-rate", "0.2", "--voice-cps", "5",
        "--no-voice-idempotency"])
    config = config_from(args)
    assert config.voice_accounts == {"AC1": "t1", "AC2": "t2"}
    assert config.call_outcomes == {"human": 0.75, "busy": 0.25}
    assert (config.call_ring_ms, config.call_ring_jitter_ms, config.call_duration_ms,
            config.call_duration_jitter_ms) == (40, 10, 90, 30)
    assert (config.dtmf_rate, config.voice_cps, config.voice_idempotency) == (0.2, 5, False)


def test_voice_defaults() -> None:
    config = config_from(build_parser().parse_args(["simulator"]))
    assert config.voice_accounts == {} and config.voice_idempotency is True
    assert (config.call_ring_ms, config.call_duration_ms, config.dtmf_rate,
            config.voice_cps) == (5000, 30_000, 0, 0)
    assert config.call_outcomes["human"] == pytest.approx(0.55)


@pytest.mark.parametrize(("flags", "reason"), [
    (["--voice-account", "AC1"], "--voice-account: expected SID:TOKEN, got 'AC1'"),
    (["--voice-account", "AC1:a", "--voice-account", "AC1:b"], "'AC1' given twice"),
    (["--call-outcomes", "human=1,robot=1"], "--call-outcomes: unknown outcome 'robot'"),
    (["--call-ring-ms", "soon"], "--call-ring-ms: expected a number"),
    (["--dtmf-rate", "2"], "--dtmf-rate: must be a probability"),
    (["--call-ring-ms", "10", "--call-ring-jitter-ms", "20"],
     "--call-ring-jitter-ms: must be at most --call-ring-ms"),
])
def test_bad_voice_flags_raise_user_error(flags: list[str], reason: str) -> None:
    args = build_parser().parse_args(["simulator", *flags])
    with pytest.raises(UserError, match=reason):
        config_from(args)
