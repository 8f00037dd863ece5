"""The Kannel gateway against a stand-in smsbox (httpx.MockTransport): what a sendsms
carries, what each answer of Kannel means, and that no reason holds the password."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import trio

from dispatch.gateways.kannel.gateway import KannelGateway, check_config
from dispatch.gateways.kannel.sendsms import correlation_id, kannel_parts
from dispatch.settings import ConfigError, GatewaySettings
from dispatch.text import analyse
from dispatch.vocabulary import Accepted, Outbound, Rejected, Retry, SubmitResult

PASSWORD = "kannel-pw-51"
TOKEN = "tok-0123456789"
CONFIG = GatewaySettings(type="kannel", url="http://127.0.0.1:13013/cgi-bin/sendsms",
                         username="dispatch", password=PASSWORD, inbound_secret=TOKEN,
                         smsc_id="orange", sender="36111", concurrency=4, max_parts=3)
CALLBACK = "http://127.0.0.1:8470/receipts?gateway=k1"
GSM = "Parti Test : meeting dimanche. STOP au 36111"
UCS2 = "Parti Test : Привет ŝ. STOP au 36111"


class Smsbox:
    """Answers every sendsms `status` with `body` (or raises `error`), keeping what each
    request carried: its X-Kannel-* headers (names lower-cased, without the prefix), its
    content type and its text."""

    def __init__(self, status: int = 202, body: str = "0: Accepted for delivery",
                 error: Exception | None = None) -> None:
        self.status, self.body, self.error = status, body, error
        self.queries: list[dict[str, str]] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and not request.url.query  # nothing in the URL
        self.paths.append(request.url.path)
        self.queries.append({
            **{name.removeprefix("x-kannel-"): value for name, value in request.headers.items()
               if name.startswith("x-kannel-")},
            "content-type": request.headers["content-type"],
            "text": request.content.decode()})
        if self.error is not None:
            raise self.error
        return httpx.Response(self.status, text=self.body)


def gateway(smsbox: Smsbox, config: GatewaySettings = CONFIG) -> KannelGateway:
    return KannelGateway("k1", config, CALLBACK, transport=httpx.MockTransport(smsbox))


def message(text: str = GSM, reference: str = "c1-00ab", receipt: bool = True) -> Outbound:
    return Outbound(reference, "+33612345678", "36111", text, receipt)


async def submit(smsbox: Smsbox, *messages: Outbound) -> list[SubmitResult]:
    kannel = gateway(smsbox)
    try:
        with trio.fail_after(10):
            return await kannel.submit(list(messages) or [message()])
    finally:
        await kannel.aclose()


async def test_a_sendsms_carries_the_message_its_coding_and_a_dlr_url_with_our_id() -> None:
    smsbox = Smsbox()
    results = await submit(smsbox, message(GSM, "c1-a"), message(UCS2, "c1-b"))
    assert results == [Accepted(correlation_id("c1-a")), Accepted(correlation_id("c1-b"))]
    assert smsbox.paths == ["/cgi-bin/sendsms"] * 2
    gsm, ucs2 = sorted(smsbox.queries, key=lambda q: q["coding"])
    assert gsm == {"username": "dispatch", "password": PASSWORD, "smsc": "orange",
                   "from": "36111", "to": "+33612345678", "text": GSM,
                   "content-type": "text/plain; charset=UTF-8", "coding": "0",
                   "dlr-mask": "19", "dlr-url": (
                       f"http://127.0.0.1:8470/kannel/dlr?gateway=k1&token={TOKEN}"
                       f"&id={correlation_id('c1-a')}&type=%d&answer=%A")}
    assert (ucs2["coding"], ucs2["text"]) == ("2", UCS2)


async def test_an_answer_asks_no_report() -> None:
    smsbox = Smsbox()
    await submit(smsbox, message(receipt=False))
    assert "dlr-url" not in smsbox.queries[0] and "dlr-mask" not in smsbox.queries[0]


def test_our_id_is_stable_and_safe_in_a_url_kannel_rewrites() -> None:
    first = correlation_id("campagne %C3 été-00ab")
    assert first == correlation_id("campagne %C3 été-00ab") != correlation_id("c2-00ab")
    assert first.startswith("k") and len(first) == 21 and first[1:].isalnum()


@pytest.mark.parametrize(("status", "body", "expected"), [
    (202, "3: Queued for later delivery", Accepted(correlation_id("c1-00ab"))),
    (403, "Not routable. Do not try again.",
     Rejected("Kannel HTTP 403: Not routable. Do not try again.")),
    (400, "Coding field misformed, rejected",
     Rejected("Kannel HTTP 400: Coding field misformed, rejected")),
    (503, "Temporal failure, try again later.",
     Retry("Kannel HTTP 503: Temporal failure, try again later.", counts=False)),
    (500, "Sending failed.", Retry("Kannel HTTP 500: Sending failed.", counts=False)),
    (502, "", Retry("Kannel HTTP 502: no answer text")),
])
async def test_kannel_answers(status: int, body: str, expected: SubmitResult) -> None:
    assert await submit(Smsbox(status, body)) == [expected]


async def test_refused_credentials_make_messages_wait_and_are_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    smsbox = Smsbox(403, "Authorization failed for sendsms")
    kannel = gateway(smsbox)
    with trio.fail_after(10):
        results = await kannel.submit([message(), message(reference="c1-2")])
    await kannel.aclose()
    assert results == [Retry("Kannel HTTP 403: Authorization failed for sendsms", 30.0,
                             counts=False)] * 2
    assert kannel.errors.counts == {"403": 2}
    refused = [r.getMessage() for r in caplog.records if "refused the credentials" in
               r.getMessage()]
    assert len(refused) == 1 and PASSWORD not in caplog.text  # once a minute, no secret


async def test_nothing_sent_when_kannel_cannot_be_reached() -> None:
    smsbox = Smsbox(error=httpx.ConnectError("[Errno 111] Connection refused"))
    kannel = gateway(smsbox)
    with trio.fail_after(10):
        [result] = await kannel.submit([message()])
    await kannel.aclose()
    assert isinstance(result, Retry) and not result.counts
    assert kannel.errors.counts == {"connection_refused": 1}
    assert kannel.health().up is False and PASSWORD not in str(kannel.health().last_error)


async def test_a_timeout_leaves_the_fate_unknown() -> None:
    smsbox = Smsbox(error=httpx.ReadTimeout("timed out"))
    kannel = gateway(smsbox)
    with trio.fail_after(10):
        [result] = await kannel.submit([message()])
    await kannel.aclose()
    assert result == Retry("no answer from Kannel in time: fate unknown")
    assert kannel.errors.counts == {"timeout": 1}


async def test_a_text_longer_than_max_parts_or_a_sender_not_ascii_is_rejected_unsent(
        ) -> None:
    smsbox = Smsbox()
    too_long, accented = await submit(smsbox, message("x" * (153 * 3 + 1)),
                                      Outbound("c1-b", "+33612345678", "Parti Été", GSM))
    assert too_long == Rejected("4 parts: more than max_parts (3), which Kannel's "
                                "max-messages would cut")
    assert accented == Rejected("the sender is not ASCII: Kannel's X-Kannel-From cannot "
                                "carry it")
    assert smsbox.queries == []


def test_parts_are_those_kannel_cuts() -> None:
    assert kannel_parts("a" * 160) == 1 and kannel_parts("a" * 161) == 2
    assert kannel_parts("€" * 80) == 1 and kannel_parts("€" * 81) == 2  # escape pairs
    assert kannel_parts("ŝ" * 70) == 1 and kannel_parts("ŝ" * 135) == 3
    # Kannel cuts UCS-2 at 134 octets, even through a surrogate pair: one part less here.
    emoji = "😀" * 67
    assert (kannel_parts(emoji), analyse(emoji).parts) == (2, 3)


@pytest.mark.parametrize(("changes", "error"), [
    ({"username": ""}, r"gateways\.k1\.username: required"),
    ({"password": ""}, r"gateways\.k1\.password: required"),
    ({"inbound_secret": "a&b"}, r"gateways\.k1\.inbound_secret: .*letters, digits"),
    ({"url": "ftp://x"}, r"gateways\.k1\.url: "),
])
def test_config_errors_name_the_key_never_the_secret(changes: dict[str, str],
                                                     error: str) -> None:
    config = dataclasses.replace(CONFIG, **changes)
    with pytest.raises(ConfigError, match=error) as raised:
        check_config("k1", config)
    assert PASSWORD not in str(raised.value)
    with pytest.raises(ConfigError, match=r"gateways\.k 1: .*name"):
        check_config("k 1", CONFIG)
    with pytest.raises(ConfigError, match=r"daemon\.public_inbound_url: .*ASCII"):
        KannelGateway("k1", CONFIG, "https://réception.example/receipts?gateway=k1")


async def test_a_url_without_a_path_sends_to_kannels_default_one() -> None:
    smsbox = Smsbox()
    config = dataclasses.replace(CONFIG, url="http://127.0.0.1:13013")
    kannel = KannelGateway("k1", config, CALLBACK, transport=httpx.MockTransport(smsbox))
    with trio.fail_after(10):
        await kannel.submit([message()])
    await kannel.aclose()
    assert smsbox.paths == ["/cgi-bin/sendsms"]


@pytest.mark.parametrize(("status", "body", "unsent"), [
    (503, "Sending failed.", True),  # bearerbox refused it: Kannel did not keep it
    (500, "Sending failed.", True),
    (403, "Authorization failed for sendsms", True),
    (504, "", False),  # a proxy's timeout: Kannel may have taken it
])
def test_a_retry_says_whether_kannel_surely_did_not_take_the_message(
        status: int, body: str, unsent: bool) -> None:
    """What a route may send through another gateway (Retry.unsent)."""
    from dispatch.gateways.kannel.sendsms import answer_result

    result = answer_result(status, body, "k1")
    assert isinstance(result, Retry) and result.unsent is unsent
