"""The twilio block of config/dispatch.example.toml, uncommented, is a valid configuration
of the kind (with its token from the environment)."""

from __future__ import annotations

from pathlib import Path

from dispatch.gateways.twilio import check_config
from dispatch.settings import load_settings
from tests.example_config import with_examples_on


def test_the_example_block_uncommented_is_a_twilio_gateway(tmp_path: Path) -> None:
    path = with_examples_on(tmp_path / "dispatch.toml")
    settings = load_settings(path, env={"DISPATCH_GATEWAY_TWILIO_EXAMPLE_AUTH_TOKEN": "t0k3n"})
    gateway = settings.gateways["twilio_example"]
    assert (gateway.type, gateway.sender, gateway.auth_token) == ("twilio", "+33700000001",
                                                                 "t0k3n")
    check_config("twilio_example", gateway)
