"""A route's settings: members, weights and prefixes name SMS gateways configured in the
same file; a mistake is one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.settings import ConfigError, load_settings

GATEWAYS = """
[gateways.orange]
type = "smpp"
[gateways.sfr]
type = "smpp"
[gateways.calls]
type = "voice"
account_sid = "AC1"
auth_token = "t"
"""


def load(tmp_path: Path, route: str) -> object:
    path = tmp_path / "dispatch.toml"
    path.write_text(GATEWAYS + "[gateways.main]\ntype = \"route\"\n" + route)
    return load_settings(path, env={})


def test_a_route_reads_its_members_weights_and_prefixes(tmp_path: Path) -> None:
    settings = load(tmp_path, 'members = ["orange", "sfr"]\nweights = { orange = 3, sfr = 1 }\n'
                              'out_after = 2\n[gateways.main.prefixes]\n"+262" = ["sfr"]\n')
    route = settings.gateways["main"]  # type: ignore[attr-defined]
    assert route.members == ("orange", "sfr")
    assert route.weights == {"orange": 3, "sfr": 1}
    assert route.prefixes == {"+262": ("sfr",)}
    assert route.out_after == 2


@pytest.mark.parametrize(("route", "message"), [
    ("", r"^gateways\.main\.members: a route needs at least one member gateway$"),
    ('members = ["orange", "bouygues"]',
     r"^gateways\.main\.members: unknown gateway 'bouygues' \(configured: calls, main, "
     r"orange, sfr\)$"),
    ('members = ["orange", "orange"]', r"^gateways\.main\.members: a gateway is named twice$"),
    ('members = ["calls"]', r"^gateways\.main\.members: 'calls' places calls; a route "
                            r"carries SMS$"),
    ('members = ["main"]', r"^gateways\.main\.members: 'main' is a route"),
    ('members = "orange"', r"^gateways\.main\.members: expected an array, got string"),
    ('members = ["orange", 3]', r"^gateways\.main\.members\[1\]: expected a string, got "
                                r"integer 3$"),
    ('members = ["orange", "sfr"]\nweights = { orange = 1 }',
     r"^gateways\.main\.weights: give a weight to each member and only to them"),
    ('members = ["orange"]\nweights = { orange = 0 }',
     r"^gateways\.main\.weights\.orange: must be at least 1$"),
    ('members = ["orange"]\nprefixes = { "262" = ["sfr"] }',
     r'^gateways\.main\.prefixes\.262: a prefix is "\+" and digits'),
    ('members = ["orange"]\nprefixes = { "+262" = [] }',
     r"^gateways\.main\.prefixes\.\+262: name at least one gateway$"),
    ('members = ["orange"]\nout_for_s = 600.0',
     r"^gateways\.main\.out_for_s: must be more than 0 and at most out_max_s$"),
])
def test_a_route_mistake_is_one_line_naming_the_key(tmp_path: Path, route: str,
                                                    message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, route)


def test_only_a_route_has_members(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.toml"
    path.write_text('[gateways.orange]\ntype = "smpp"\nmembers = ["x"]\n')
    with pytest.raises(ConfigError, match=r'^gateways\.orange\.members: only a route has '
                                          r'members \(type = "route"\)$'):
        load_settings(path, env={})
