"""A voice campaign at enqueue: landlines welcome, the preamble and call policy kept in
the meta, and the gateway, pool and script checked before anything is queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.enqueue import EnqueueError, TextRules, Voice
from dispatch.keys import Keys
from dispatch.policy.calls import CallPolicy
from dispatch.settings import Settings, load_settings
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.entries import unpack_entry
from dispatch.store.redis import Redis
from tests.test_enqueue import run, write

CONFIG = ('[gateways.calls]\ntype = "voice"\nurl = "https://voice.example"\n'
          'account_sid = "AC1"\nauth_token = "t"\n[gateways.sms]\n'
          '[pools.callers]\ngateway = "calls"\nrate = 1\n'
          'lines = [{ numbers = ["+33900000001"] }]\n')
RULES = TextRules(sender="Parti X")
VOICE = Voice(calls=CallPolicy(max_attempts=2, busy_retry_s=60, no_answer_retry_s=120,
                               machine="retry"))


@pytest.fixture
def voiced(settings: Settings, tmp_path: Path) -> Settings:
    loaded = load_settings(write(tmp_path, CONFIG, "dispatch.toml"), env={})
    return Settings(redis=settings.redis, gateways=loaded.gateways, lines=loaded.lines,
                    state_dir=settings.state_dir)


async def test_a_voice_campaign_calls_landlines_and_keeps_its_script_and_policy(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,name\n01 42 68 53 00,Ana\n0611111111,Bo\n0800 00 00 00,X\n")
    report = await run(redis, voiced, path, "Bonjour {name}, votez le 11.", gateway="calls",
                       rules=RULES, voice=VOICE)
    assert (report.accepted, report.rejected) == (2, 1)  # the toll-free number is not called
    assert report.errors == [(4, "not a mobile or landline number (toll-free)")]
    meta = await MetaStore(redis, Keys(voiced.redis.key_prefix)).read("c1")
    assert meta.voice and meta.pool == "callers" and meta.text == "Bonjour {name}, votez le 11."
    assert meta.preamble == ("Bonjour, ceci est un message de Parti X. Pour ne plus être "
                             "appelé, tapez 9.")
    assert meta.calls == VOICE.calls
    assert report.to_json()["lint"]["channel"] == "voice"


async def test_a_recording_is_kept_by_its_url(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n0611111111\n")
    await run(redis, voiced, path, "", gateway="calls", rules=RULES,
              voice=Voice(audio_url="https://a.example/m.mp3"))
    meta = await MetaStore(redis, Keys(voiced.redis.key_prefix)).read("c1")
    assert (meta.audio_url, meta.text) == ("https://a.example/m.mp3", "")


@pytest.mark.parametrize(("gateway", "voice", "message"), [
    ("calls", None, "gateway 'calls' places calls: give --channel voice"),
    ("sms", VOICE, "gateway 'sms' is a http gateway: a voice campaign needs a voice gateway"),
])
async def test_calls_go_through_a_voice_gateway_and_sms_do_not(
        redis: Redis, voiced: Settings, tmp_path: Path, gateway: str, voice: Voice | None,
        message: str) -> None:
    with pytest.raises(EnqueueError, match=message):
        await run(redis, voiced, write(tmp_path, "phone\n0611111111\n"), "Votez. Parti X.",
                  gateway=gateway, rules=RULES, voice=voice)


async def test_a_voice_campaign_needs_lines_and_a_preamble_that_says_9(
        redis: Redis, settings: Settings, voiced: Settings, tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n0611111111\n")
    no_pool = Settings(redis=settings.redis, gateways=voiced.gateways,
                       state_dir=settings.state_dir)
    with pytest.raises(EnqueueError, match="a voice campaign needs a pool of lines"):
        await run(redis, no_pool, path, "Votez.", gateway="calls", rules=RULES, voice=VOICE)
    with pytest.raises(EnqueueError, match="the preamble does not say how to object"):
        await run(redis, voiced, path, "Votez.", gateway="calls", rules=RULES,
                  voice=Voice(preamble="Bonjour, ici le Parti X."))


async def test_a_consent_slot_goes_with_the_entry_when_it_meets_the_campaign_s_window(
        redis: Redis, voiced: Settings, tmp_path: Path) -> None:
    rows = ("phone,consent_source,consent_date,consent_slot\n"
            "0611111111,web,2026-11-02,lun-ven 18:00-21:00\n"
            "0622222222,web,2026-11-02,\n"
            "0633333333,web,2026-11-02,le soir\n"
            "0644444444,web,2026-11-02,sam 10:00-12:00\n")
    report = await run(redis, voiced, write(tmp_path, rows), "Votez.", gateway="calls",
                       rules=RULES, voice=VOICE, consent_required=True)
    assert report.accepted == 2
    assert [line for line, _ in report.errors] == [4, 5]
    assert report.errors[0][1].startswith("consent_slot: sending window 'le soir'")
    assert report.errors[1][1] == ("consent_slot: the window is never open: give at least "
                                   "one day and range")
    stream = Keys(voiced.redis.key_prefix).campaign("c1").stream
    bodies = [unpack_entry(entry.field_values[b"m"]) for entry in await redis.xrange(stream)]
    assert [(number, slot) for number, _, slot in bodies] == [
        ("+33611111111", "lun-ven 18:00-21:00"), ("+33622222222", "")]
