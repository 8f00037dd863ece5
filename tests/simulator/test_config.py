from __future__ import annotations

import pytest

from dispatch.simulator.config import (
    DEFAULT_OUTCOMES,
    OutcomePicker,
    SimulatorConfig,
    SimulatorConfigError,
    parse_outcome_mix,
)


def test_outcome_mix_is_parsed_and_normalised() -> None:
    mix = parse_outcome_mix(" delivered = 3 , rejected=1")
    assert mix == {"delivered": 0.75, "rejected": 0.25}


def test_default_mix_parses_to_the_default() -> None:
    text = ",".join(f"{name}={weight}" for name, weight in DEFAULT_OUTCOMES.items())
    assert parse_outcome_mix(text) == pytest.approx(DEFAULT_OUTCOMES)


def test_zero_weights_are_allowed_when_the_sum_is_positive() -> None:
    assert parse_outcome_mix("delivered=0,expired=2") == {"delivered": 0.0, "expired": 1.0}


@pytest.mark.parametrize(("text", "message"), [
    ("", "expected NAME=WEIGHT"),
    ("delivered", "expected NAME=WEIGHT"),
    ("=1", "expected NAME=WEIGHT"),
    ("delivered=x", "weight of 'delivered' is not a number"),
    ("bounced=1", "unknown outcome 'bounced'"),
    ("delivered=-1", "must be a finite number >= 0"),
    ("delivered=nan", "must be a finite number >= 0"),
    ("delivered=inf", "must be a finite number >= 0"),
    ("delivered=0,expired=0", "sum to more than 0"),
    ("delivered=1,delivered=2", "'delivered' given twice"),
])
def test_bad_outcome_mixes_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(SimulatorConfigError, match=message) as caught:
        parse_outcome_mix(text)
    assert str(caught.value).startswith("--outcomes: ")


def test_config_normalises_outcomes_given_as_a_mapping() -> None:
    config = SimulatorConfig(outcomes={"delivered": 1, "expired": 1})
    assert config.outcomes == {"delivered": 0.5, "expired": 0.5}


@pytest.mark.parametrize(("knobs", "message"), [
    ({"error_429": 1.5}, "--error-429: must be a probability"),
    ({"error_5xx": -0.1}, "--error-5xx: must be a probability"),
    ({"lost_response": float("nan")}, "--lost-response: must be a probability"),
    ({"latency_ms": -1}, "--latency-ms: must be a finite number"),
    ({"receipt_jitter_ms": float("inf")}, "--receipt-jitter-ms: must be a finite number"),
    ({"receipt_batch": 0}, "--receipt-batch: must be at least 1"),
    ({"http_port": 70000}, "--http-port: must be 0..65535"),
    ({"outcomes": {"lost": 1.0}}, "unknown outcome 'lost'"),
])
def test_bad_knobs_are_refused_naming_the_flag(knobs: dict[str, object], message: str) -> None:
    with pytest.raises(SimulatorConfigError, match=message):
        SimulatorConfig(**knobs)  # type: ignore[arg-type]


def test_outcome_picker_maps_draws_onto_cumulative_weights() -> None:
    picker = OutcomePicker({"delivered": 0.5, "undeliverable": 0.0, "expired": 0.5})
    assert picker.pick(0.0) == "delivered"
    assert picker.pick(0.49) == "delivered"
    assert picker.pick(0.5) == "expired"
    assert picker.pick(0.999999) == "expired"


def test_outcome_picker_never_runs_past_the_last_outcome() -> None:
    # Weights whose float sum is a hair under 1.0.
    picker = OutcomePicker({"delivered": 0.1, "expired": 0.2, "rejected": 0.7 - 1e-12})
    assert picker.pick(0.9999999999999) == "rejected"
