from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dispatch.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings(env={})
    assert settings.redis.url == ""
    assert settings.enqueue.default_region == "FR"
    assert "default" in settings.gateways


def test_unknown_key_is_named(tmp_path: Path) -> None:
    expected = r"^daemon\.batch_sise: unknown key \(did you mean batch_size\?\)$"
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, "[daemon]\nbatch_sise = 3\n"), env={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^deamon: unknown key \(did you mean daemon\?\)$"):
        load_settings(write(tmp_path, "[deamon]\nbatch_size = 3\n"), env={})


def test_wrong_type_is_named(tmp_path: Path) -> None:
    expected = r"^daemon\.batch_size: expected an integer, got string 'ten'$"
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, '[daemon]\nbatch_size = "ten"\n'), env={})


def test_wrong_type_in_a_named_gateway(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^gateways\.fast\.concurrency: expected an integer"):
        load_settings(write(tmp_path, '[gateways.fast]\nconcurrency = 1.5\n'), env={})


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    expected = r"^enqueue\.batch_size: expected an integer, got boolean"
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, "[enqueue]\nbatch_size = true\n"), env={})


def test_integer_accepted_where_a_number_is_expected(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[daemon]\nclaim_idle_s = 5\n"), env={})
    assert settings.daemon.claim_idle_s == 5.0


def test_bad_value_range_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^gateways\.default\.type: must be one of"):
        load_settings(write(tmp_path, '[gateways.default]\ntype = "carrier-pigeon"\n'), env={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[daemon\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[redis]\nurl = "redis://127.0.0.1:1"\n')
    settings = load_settings(path, env={"DISPATCH_REDIS_URL": "unix:///tmp/x.sock",
                                        "DISPATCH_STATE_DIR": str(tmp_path)})
    assert settings.redis.url == "unix:///tmp/x.sock"
    assert settings.state_dir == str(tmp_path)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[enqueue]\ndefault_region = \"RE\"\n")
    assert load_settings(env={"DISPATCH_CONFIG": str(path)}).enqueue.default_region == "RE"


def test_bad_redis_url_scheme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^redis\.url: must start with"):
        load_settings(write(tmp_path, '[redis]\nurl = "http://x"\n'), env={})


@pytest.mark.parametrize("price", ["-0.1", "nan", "inf"])
def test_a_price_per_part_must_be_a_price(tmp_path: Path, price: str) -> None:
    with pytest.raises(ConfigError, match=r"^gateways\.default\.price_per_part: must be a "
                                          r"price >= 0"):
        load_settings(write(tmp_path, f"[gateways.default]\nprice_per_part = {price}\n"),
                      env={})


@pytest.mark.parametrize(("text", "message"), [
    ('[answers]\nhelp_text = "Bonjour {prenom}"\n',
     "answers.help_text: unknown placeholder {prenom} (known: {identity}, {client}, {line})"),
    ('[answers]\noptout_text = ""\n', "answers.optout_text: the text is empty"),
    ("[answers]\nretry_s = 0\n", "answers: batch_size must be >= 1, retry_s and max_age_h > 0"),
])
def test_bad_answer_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert str(caught.value) == message


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).parent.parent / "config" / "dispatch.example.toml"
    settings = load_settings(example, env={})
    assert settings.gateways["default"].batch_size == 50


def test_each_commented_gateway_example_is_valid_once_uncommented(tmp_path: Path) -> None:
    from tests.example_config import with_examples_on

    settings = load_settings(with_examples_on(tmp_path / "dispatch.toml"), env={})
    kinds = {name: gateway.type for name, gateway in settings.gateways.items()}
    assert kinds == {"default": "http", "operator": "smpp", "calls": "voice",
                     "main": "route", "twilio_example": "twilio",
                     "kannel_example": "kannel"}


@pytest.mark.parametrize(("text", "message"), [
    ("[daemon]\nbatch_sise = 3\n", "daemon.batch_sise: unknown key (did you mean batch_size?)"),
    ('[gateways.default]\nwindow = "big"\n',
     "gateways.default.window: expected an integer, got string 'big'"),
])
def test_every_command_refuses_a_bad_config_with_one_line_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    from dispatch.cli import main

    path = write(tmp_path, text)
    for command in (["status"], ["run"], ["enqueue", "x.csv", "--campaign", "c", "--text", "t"]):
        assert main([*command, "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == f"dispatch {command[0]}: {message}\n"


POOL = ('[pools.paris]\ngateway = "default"\nrate = 0.5\n'
        'lines = [{ range = "+33700000000-+33700000009" }]\n')


def test_pools_and_caps_are_read(tmp_path: Path) -> None:
    text = POOL + "[gateway_caps.default]\nbind_rate = 100\nbinds = 2\nwindow = 10\n"
    settings = load_settings(write(tmp_path, text), env={})
    pool = settings.lines.pools["paris"]
    assert (pool.gateway, len(pool), pool.capacity) == ("default", 10, 5.0)
    assert settings.lines.caps_of("default").window == 20


def test_no_pools_by_default() -> None:
    assert not load_settings(env={}).lines.pools


def test_a_pool_on_an_unknown_gateway_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^pools\.paris\.gateway: unknown gateway 'orange'"):
        load_settings(write(tmp_path, POOL.replace('"default"', '"orange"')), env={})


def test_an_error_inside_a_pool_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^pools\.paris\.rate: must be more than 0"):
        load_settings(write(tmp_path, POOL.replace("0.5", "0")), env={})


def test_caps_of_a_gateway_without_pools_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^gateway_caps\.default: gateway 'default' has no "):
        load_settings(write(tmp_path, "[gateway_caps.default]\nwindow = 10\n"), env={})


def test_a_misspelt_pools_table_is_named_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^pool: unknown key \(did you mean pools\?\)$"):
        load_settings(write(tmp_path, POOL.replace("pools.", "pool.")), env={})


def test_the_lines_field_is_not_a_table_of_its_own(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^lines: unknown key"):
        load_settings(write(tmp_path, "[lines]\nx = 1\n"), env={})


def test_pool_for_a_campaign(tmp_path: Path) -> None:
    from dispatch.settings import pool_for

    two = POOL + POOL.replace("paris", "lyon").replace("+337000000", "+337000001")
    gateways = "[gateways.default]\n[gateways.other]\n"
    settings = load_settings(write(tmp_path, two + gateways), env={})
    assert pool_for(settings, "default", "lyon") == "lyon"
    assert pool_for(settings, "default", None) == ""  # two pools: none chosen for it
    assert pool_for(settings, "other", None) == ""
    with pytest.raises(ConfigError, match="pool 'lyon' is on gateway 'default', not 'other'"):
        pool_for(settings, "other", "lyon")
    with pytest.raises(ConfigError, match=r"unknown pool 'nice' \(pools: lyon, paris\)"):
        pool_for(settings, "default", "nice")
    one = load_settings(write(tmp_path, POOL), env={})
    assert pool_for(one, "default", None) == "paris"


def test_the_example_config_shows_every_key() -> None:
    """Each key of every table appears in the example (set, or commented out with its
    default and what it does): an operator reads there every setting a gateway takes."""
    import dataclasses
    import re

    from dispatch.settings import (
        AnswerSettings,
        DaemonSettings,
        EnqueueSettings,
        GatewaySettings,
        RedisSettings,
        RetentionSettings,
    )

    text = (Path(__file__).parent.parent / "config" / "dispatch.example.toml").read_text()
    written = set(re.findall(r"^#? ?([a-z_]+) = ", text, re.MULTILINE))
    for table in (RedisSettings, EnqueueSettings, DaemonSettings, GatewaySettings,
                  AnswerSettings, RetentionSettings):
        keys = {f.name for f in dataclasses.fields(table)}
        assert keys <= written, f"{table.__name__}: not in the example: {keys - written}"
