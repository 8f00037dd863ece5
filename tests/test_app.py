"""The composition root knows every gateway kind the settings accept, and builds each."""

from __future__ import annotations

from dispatch.app import GATEWAY_KINDS, build_gateway
from dispatch.settings import ROUTE_KIND, GatewaySettings, gateway_kinds


def test_every_gateway_package_is_a_kind_of_the_composition_root() -> None:
    assert set(GATEWAY_KINDS) | {ROUTE_KIND} == set(gateway_kinds()) == {
        "http", "kannel", "route", "smpp", "twilio", "voice"}


async def test_each_kind_builds_a_gateway_with_the_interface() -> None:
    for kind in GATEWAY_KINDS:
        config = GatewaySettings(type=kind, system_id="t", password="pw", batch_size=7,
                                 concurrency=3, sender="36111", account_sid="AC1", username="u",
                                 auth_token="secret")
        gateway = build_gateway("g", config, "http://127.0.0.1:1/receipts")
        assert (gateway.name, gateway.sender, gateway.batch_size, gateway.concurrency) == (
            "g", "36111", 7, 3)
        assert gateway.parts("Bonjour") == 1
        await gateway.aclose()
