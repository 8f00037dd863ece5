"""Issue 16, item 1: gateway secrets from systemd credentials (LoadCredential=, read from
$CREDENTIALS_DIRECTORY) beside the DISPATCH_GATEWAY_<NAME>_<KEY> environment; a credential
the file names and nobody gave stops `dispatch run` with one line; under systemd the daemon
refuses the embedded Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.settings import ConfigError, check_for_daemon, credential_name, load_settings

PASSWORD = "s3cret-of-the-smsc"
CONFIG = """
[redis]
url = "unix:///run/redis/redis-server.sock"

[gateways.operator]
type = "smpp"
system_id = "dispatch"
{password}

[gateways.calls]
type = "voice"
account_sid = "AC1"
"""


def config(tmp_path: Path, password: str = "") -> Path:
    path = tmp_path / "dispatch.toml"
    path.write_text(CONFIG.format(password=password))
    return path


def credentials(tmp_path: Path, **files: str) -> dict[str, str]:
    """A $CREDENTIALS_DIRECTORY holding `files` (name -> content), as systemd makes it."""
    folder = tmp_path / "credentials"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content)
    return {"CREDENTIALS_DIRECTORY": str(folder)}


def test_credential_name_is_gateway_name_key() -> None:
    assert credential_name("operator", "password") == "gateway.operator.password"
    assert credential_name("calls", "auth_token") == "gateway.calls.auth_token"


def test_a_credential_named_after_the_gateway_fills_its_key(tmp_path: Path) -> None:
    env = credentials(tmp_path, **{"gateway.operator.password": PASSWORD + "\n",
                                   "gateway.calls.auth_token": "tok"})
    settings = load_settings(config(tmp_path), env)
    assert settings.gateways["operator"].password == PASSWORD  # the editor's newline gone
    assert settings.gateways["calls"].auth_token == "tok"
    assert settings.missing_credentials == ()
    check_for_daemon(settings, env)


def test_only_one_line_end_is_taken_off(tmp_path: Path) -> None:
    env = credentials(tmp_path, **{"gateway.operator.password": " pw \r\n\n"})
    assert load_settings(config(tmp_path), env).gateways["operator"].password == " pw \r\n"
    env = credentials(tmp_path, **{"gateway.operator.password": "pw\r\n"})
    assert load_settings(config(tmp_path), env).gateways["operator"].password == "pw"


def test_a_credential_wins_over_the_file_and_the_environment_over_both(
        tmp_path: Path) -> None:
    path = config(tmp_path, 'password = "from-the-file"')
    env = credentials(tmp_path, **{"gateway.operator.password": PASSWORD})
    assert load_settings(path, env).gateways["operator"].password == PASSWORD
    env["DISPATCH_GATEWAY_OPERATOR_PASSWORD"] = "from-the-env"
    assert load_settings(path, env).gateways["operator"].password == "from-the-env"
    assert load_settings(path, {}).gateways["operator"].password == "from-the-file"


def test_the_environment_still_works_without_credentials(tmp_path: Path) -> None:
    env = {"DISPATCH_GATEWAY_OPERATOR_PASSWORD": PASSWORD,
           "DISPATCH_GATEWAY_CALLS_AUTH_TOKEN": "tok"}
    settings = load_settings(config(tmp_path), env)
    assert settings.gateways["operator"].password == PASSWORD
    assert settings.gateways["calls"].auth_token == "tok"


def test_the_file_may_name_the_credential(tmp_path: Path) -> None:
    path = config(tmp_path, 'password = { credential = "smsc.pw" }')
    env = credentials(tmp_path, **{"smsc.pw": PASSWORD})
    settings = load_settings(path, env)
    assert settings.gateways["operator"].password == PASSWORD
    check_for_daemon(settings, env)


@pytest.mark.parametrize("files, why", [
    ({}, "not found in $CREDENTIALS_DIRECTORY"),
    ({"gateway.operator.password": "\n"}, "is empty"),
    (None, "not found: $CREDENTIALS_DIRECTORY is not set"),
])
def test_a_named_credential_missing_stops_the_daemon_in_one_line(
        tmp_path: Path, files: dict[str, str] | None, why: str) -> None:
    path = config(tmp_path, 'password = { credential = "gateway.operator.password" }')
    env = {} if files is None else credentials(tmp_path, **files)
    settings = load_settings(path, env)  # commands that send nothing do not need it
    assert settings.gateways["operator"].password == ""
    with pytest.raises(ConfigError) as error:
        check_for_daemon(settings, env)
    message = str(error.value)
    assert message.startswith(f"gateways.operator.password: credential "
                              f"gateway.operator.password {why}"), message
    assert "LoadCredential=gateway.operator.password:PATH" in message
    assert "DISPATCH_GATEWAY_OPERATOR_PASSWORD" in message
    assert "\n" not in message


def test_the_environment_stands_in_for_a_named_credential(tmp_path: Path) -> None:
    path = config(tmp_path, 'password = { credential = "gateway.operator.password" }')
    env = {"DISPATCH_GATEWAY_OPERATOR_PASSWORD": PASSWORD}
    settings = load_settings(path, env)
    assert settings.gateways["operator"].password == PASSWORD
    check_for_daemon(settings, env)


def test_several_missing_credentials_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.toml"
    path.write_text('[gateways.a]\npassword = { credential = "a" }\n'
                    '[gateways.b]\nauth_token = { credential = "b" }\n')
    settings = load_settings(path, {})
    assert len(settings.missing_credentials) == 2
    with pytest.raises(ConfigError, match=r"^gateways\.a\.password: .* \(and 1 more\)$"):
        check_for_daemon(settings, {})


def test_an_unnamed_credential_missing_is_no_error(tmp_path: Path) -> None:
    env = credentials(tmp_path)
    settings = load_settings(config(tmp_path, 'password = "in-the-file"'), env)
    assert settings.gateways["operator"].password == "in-the-file"
    check_for_daemon(settings, env)


@pytest.mark.parametrize("value, message", [
    ('{ credential = 3 }', 'gateways.operator.password: expected a string or '
                           '{ credential = "NAME" }, got table'),
    ('{ credential = "a", other = 1 }', "expected a string or"),
    ('{ name = "a" }', "expected a string or"),
    ('{ credential = "../shadow" }', "not a credential name: '../shadow'"),
    ('{ credential = "" }', "not a credential name: ''"),
])
def test_a_bad_reference_is_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace(".", r"\.")):
        load_settings(config(tmp_path, f"password = {value}"), {})


def test_a_credential_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    env = credentials(tmp_path)
    secret = Path(env["CREDENTIALS_DIRECTORY"]) / "gateway.operator.password"
    secret.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"gateways.operator.password: credential "
                                          r"gateway.operator.password is not UTF-8 text"):
        load_settings(config(tmp_path), env)
    secret.unlink()
    secret.mkdir()  # what cannot be read as a file
    with pytest.raises(ConfigError, match=r"cannot read credential gateway.operator.password"):
        load_settings(config(tmp_path), env)


def test_the_secret_is_never_in_the_message(tmp_path: Path) -> None:
    env = credentials(tmp_path, **{"gateway.operator.password": PASSWORD})
    path = tmp_path / "dispatch.toml"
    path.write_text(CONFIG.format(password="") + "\n[daemon]\nbatch_size = 0\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, env)
    assert PASSWORD not in str(error.value)


SYSTEMD = {"INVOCATION_ID": "0123456789abcdef0123456789abcdef",
           "NOTIFY_SOCKET": "/run/systemd/notify"}


def test_under_systemd_the_daemon_refuses_the_embedded_redis(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.toml"
    path.write_text("[daemon]\nconsumer = 'a'\n[gateways.default]\ninbound_secret = 'k-123'\n")
    settings = load_settings(path, {})
    check_for_daemon(settings, {})  # by hand: the embedded Redis is fine
    check_for_daemon(settings, {"INVOCATION_ID": SYSTEMD["INVOCATION_ID"]})
    with pytest.raises(ConfigError, match=r"^redis\.url: not set: a systemd service never "
                                          r"starts the embedded Redis"):
        check_for_daemon(settings, SYSTEMD)
    with_url = load_settings(path, {"DISPATCH_REDIS_URL": "redis://127.0.0.1:6379/0"})
    check_for_daemon(with_url, SYSTEMD)


def run_command(tmp_path: Path, config_text: str, env: dict[str, str]
                ) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "run.toml"
    path.write_text(config_text)
    base = {name: value for name, value in os.environ.items()
            if not name.startswith(("DISPATCH_", "NOTIFY_SOCKET", "INVOCATION_ID",
                                    "CREDENTIALS_DIRECTORY"))}
    return subprocess.run([sys.executable, "-m", "dispatch", "run", "--config", str(path)],
                          env={**base, "DISPATCH_STATE_DIR": str(tmp_path / "state"), **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_dispatch_run_under_systemd_without_a_redis_url_exits_2_in_one_line(
        tmp_path: Path) -> None:
    done = run_command(tmp_path, "", {**SYSTEMD, "NOTIFY_SOCKET": str(tmp_path / "n")})
    assert done.returncode == 2, done
    assert done.stderr.startswith("dispatch run: redis.url: not set"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "state").exists()  # no embedded Redis was started


def test_dispatch_run_without_its_credential_exits_2_in_one_line(tmp_path: Path) -> None:
    done = run_command(
        tmp_path, '[redis]\nurl = "redis://127.0.0.1:1/0"\n[gateways.default]\ntype = '
                  '"smpp"\npassword = { credential = "gateway.default.password" }\n',
        credentials(tmp_path))
    assert done.returncode == 2, done
    assert done.stderr.startswith("dispatch run: gateways.default.password: credential "
                                  "gateway.default.password not found"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_an_http_gateway_without_an_inbound_secret_does_not_run(tmp_path: Path) -> None:
    """Unsigned receipts and replies must be chosen (inbound_auth = "none"), never the
    default; the secret comes like the others (environment, credential), never shown."""
    path = tmp_path / "dispatch.toml"
    path.write_text("[gateways.sms]\nurl = 'http://127.0.0.1:1'\n")
    with pytest.raises(ConfigError, match=r"^gateways\.sms\.inbound_secret: required: .*"
                                          r"DISPATCH_GATEWAY_SMS_INBOUND_SECRET.*"
                                          r"gateway\.sms\.inbound_secret"):
        check_for_daemon(load_settings(path, {}), {})
    secret = "from-the-environment"
    settings = load_settings(path, {"DISPATCH_GATEWAY_SMS_INBOUND_SECRET": secret})
    assert settings.gateways["sms"].inbound_secret == secret
    check_for_daemon(settings, {})
    credential = credentials(tmp_path, **{"gateway.sms.inbound_secret": "c-1\n"})
    assert load_settings(path, credential).gateways["sms"].inbound_secret == "c-1"
    path.write_text("[gateways.sms]\ninbound_auth = 'none'\n[gateways.bin]\ntype = 'smpp'\n")
    check_for_daemon(load_settings(path, {}), {})
    path.write_text("[gateways.sms]\ninbound_auth = 'off'\n")
    with pytest.raises(ConfigError, match=r"^gateways\.sms\.inbound_auth: must be one of "
                                          r"'signed', 'none', got 'off'"):
        load_settings(path, {})


def test_a_kannel_gateway_without_its_token_does_not_run(tmp_path: Path) -> None:
    """Kannel cannot sign: its inbound_secret is the token of the URLs it calls, required
    in the same way, from the same places."""
    path = tmp_path / "dispatch.toml"
    path.write_text("[gateways.k]\ntype = 'kannel'\nusername = 'dispatch'\n")
    with pytest.raises(ConfigError, match=r"^gateways\.k\.inbound_secret: required: the "
                                          r"gateway calls its dlr-url and get-url with it as "
                                          r"a token \(set DISPATCH_GATEWAY_K_INBOUND_SECRET"):
        check_for_daemon(load_settings(path, {}), {})
    check_for_daemon(load_settings(path, {"DISPATCH_GATEWAY_K_INBOUND_SECRET": "t-1"}), {})
    path.write_text("[gateways.k]\ntype = 'kannel'\ninbound_auth = 'none'\n")
    check_for_daemon(load_settings(path, {}), {})
    path.write_text("[gateways.k]\ntype = 'kannel'\nmax_parts = 0\n")
    with pytest.raises(ConfigError, match=r"^gateways\.k\.max_parts: must be at least 1"):
        load_settings(path, {})
