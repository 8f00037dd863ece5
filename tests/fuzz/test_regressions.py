"""What the fuzz tests found, one plain example each (they hold without Hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.settings import ConfigError, load_settings
from dispatch.smpp import (
    NEED_DATA,
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    Role,
    Session,
    SmppEncodeError,
    State,
    SubmitSm,
    Unbind,
    UnbindResp,
    decode_pdu,
    encode_pdu,
)
from dispatch.smpp.constants import Tag


def _bound_smsc() -> Session:
    smsc = Session(Role.SMSC)
    smsc.receive_data(encode_pdu(BindTransceiver(1, system_id="a")))
    assert isinstance(smsc.next_event(), BindTransceiver)
    smsc.send(BindTransceiverResp(1, 0, system_id="sim"))
    assert smsc.state is State.BOUND_TRX
    return smsc


def test_a_stray_unbind_resp_leaves_the_session_bound() -> None:
    """Found by test_the_simulated_smsc_answers_any_client_bytes: a client's unbind_resp
    that answered no unbind moved the SMSC's session to UNBOUND while the simulator still
    delivered to it, and its next deliver_sm raised LocalProtocolError."""
    smsc = _bound_smsc()
    smsc.receive_data(encode_pdu(UnbindResp(7)))
    assert smsc.next_event() == UnbindResp(7)
    assert smsc.state is State.BOUND_TRX
    assert decode_pdu(smsc.send(DeliverSm(destination_addr="1"))).command_id == 5


def test_an_unbind_resp_to_an_unbind_still_unbinds_both_ways() -> None:
    smsc = _bound_smsc()
    smsc.send(Unbind())
    smsc.receive_data(encode_pdu(UnbindResp(1)))
    assert smsc.next_event() == UnbindResp(1)
    assert smsc.state is State.UNBOUND
    peer = _bound_smsc()
    peer.receive_data(encode_pdu(Unbind(9)))
    assert peer.next_event() == Unbind(9)
    peer.send(UnbindResp(9))
    assert peer.state is State.UNBOUND and peer.next_event() is NEED_DATA


@pytest.mark.parametrize(("tlvs", "refusal"), [
    ({Tag.SAR_MSG_REF_NUM: "a"}, "not a C-string tag"),  # read back as the int 0x6100
    ({0x1400: "vendor"}, "not a C-string tag"),  # read back as bytes
    ({Tag.RECEIPTED_MESSAGE_ID: b"abc"}, "a C-string tag, give str"),  # read back as str
    ({Tag.SAR_MSG_REF_NUM: b"\x01\x02"}, "an integer tag, give int"),  # read back as 258
])
def test_a_tlv_value_that_would_read_back_as_another_type_is_refused(
    tlvs: dict[int, int | str | bytes], refusal: str,
) -> None:
    """Found by test_any_field_values_encode_and_round_trip_or_raise_the_encode_error."""
    with pytest.raises(SmppEncodeError, match=refusal):
        encode_pdu(SubmitSm(tlvs=tlvs))
    fine: list[dict[int, int | str | bytes]] = [
        {Tag.SAR_MSG_REF_NUM: 0x6100}, {0x1400: b"vendor"}, {Tag.RECEIPTED_MESSAGE_ID: "abc"},
        {Tag.SAR_MSG_REF_NUM: b"\x01"}]  # the wrong size for a u16: kept as bytes
    for tlvs_fine in fine:
        pdu = SubmitSm(tlvs=tlvs_fine)
        assert decode_pdu(encode_pdu(pdu)) == pdu


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    """Found by test_any_bytes_load_or_raise_one_config_error: tomllib decodes the file
    before parsing it and its UnicodeDecodeError escaped load_settings."""
    path = tmp_path / "dispatch.toml"
    path.write_bytes(b'[daemon]\nconsumer = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: not UTF-8 text \(byte 0xe9 at "
                                          r"offset 24\)"):
        load_settings(path, env={})


@pytest.mark.parametrize("url", ["redis://localhost:6379/²", "unix:///run/r.sock?db=²",
                                 "redis://localhost/٣"])
def test_a_redis_database_that_is_not_ascii_digits_is_a_config_error(
    tmp_path: Path, url: str,
) -> None:
    """Found by test_any_toml_document_loads_or_raises_one_config_error: "²" passed the
    check (str.isdigit) and int() refused it only when the daemon connected."""
    path = tmp_path / "dispatch.toml"
    path.write_text(f'[redis]\nurl = "{url}"\n')
    with pytest.raises(ConfigError, match=r"redis\.url: the database must be a number"):
        load_settings(path, env={})
    path.write_text('[redis]\nurl = "redis://localhost:6379/2"\n')
    assert load_settings(path, env={}).redis.url.endswith("/2")


@pytest.mark.parametrize("document", [
    '[daemon]\n"batch\\nsize" = 1\n',  # an unknown key with a line break
    '[gateways."a\\nb"]\ntype = "x"\n',  # a gateway name with one, in a value check
    '[gateways."a\\u2028b"]\nbatch_size = 0\n',  # a Unicode line separator
])
def test_a_config_error_naming_a_key_with_a_line_break_stays_one_line(
    tmp_path: Path, document: str,
) -> None:
    """Found by test_any_toml_document_loads_or_raises_one_config_error: quoted TOML keys
    may hold line breaks, which the messages naming them printed as they were."""
    path = tmp_path / "dispatch.toml"
    path.write_text(document)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "\\x0a" in message or "\\u2028" in message
