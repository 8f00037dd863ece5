"""The twilio block at the end of config/dispatch.example.toml, uncommented, is a valid
configuration of the kind (with its token from the environment)."""

from __future__ import annotations

from pathlib import Path

from dispatch.gateways.twilio import check_config
from dispatch.settings import load_settings

EXAMPLE = Path(__file__).parents[3] / "config" / "dispatch.example.toml"
START = "# [gateways.twilio_example]"


def test_the_example_block_uncommented_is_a_twilio_gateway(tmp_path: Path) -> None:
    block = EXAMPLE.read_text().split(START, 1)[1]
    lines = [START, *block.splitlines()]
    text = "\n".join(line.removeprefix("# ") for line in lines
                     if not line.startswith("# #")) + "\n"
    path = tmp_path / "dispatch.toml"
    path.write_text(text)
    settings = load_settings(path, env={"DISPATCH_GATEWAY_TWILIO_EXAMPLE_AUTH_TOKEN": "t0k3n"})
    gateway = settings.gateways["twilio_example"]
    assert (gateway.type, gateway.sender, gateway.auth_token) == ("twilio", "+33700000001",
                                                                 "t0k3n")
    check_config("twilio_example", gateway)
