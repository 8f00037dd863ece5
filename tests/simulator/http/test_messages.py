from __future__ import annotations

from typing import Any

import pytest

from dispatch.simulator.http.messages import (
    MAX_BATCH,
    InvalidBody,
    Submission,
    parse_batch,
    parse_batch_item,
    parse_single,
)


def message(**changes: Any) -> dict[str, Any]:
    body = {"reference": "r1", "to": "+33612345678", "from": "CAMPAIGN", "text": "Vote!",
            "callback_url": "http://127.0.0.1:9/cb"}
    body.update(changes)
    return body


def test_valid_single_message_keeps_only_reference_key_and_callback() -> None:
    assert parse_single(message(), "k1") == (Submission("r1", "k1"), "http://127.0.0.1:9/cb")
    assert parse_single(message(callback_url=None), None) == (Submission("r1", None), None)
    assert parse_single(message(), "")[0].idempotency_key is None


@pytest.mark.parametrize(("body", "reason"), [
    ([], "body must be a JSON object"),
    ({k: v for k, v in message().items() if k != "text"}, "'text' must be a string"),
    (message(reference=5), "'reference' must be a string"),
    (message(reference=""), "'reference' must not be empty"),
    (message(**{"from": None}), "'from' must be a string"),
    (message(to="0612345678"), "'to' must be an E.164 number"),
    (message(to="+33 6 12 34 56 78"), "'to' must be an E.164 number"),
    (message(to="+3361234567890123"), "'to' must be an E.164 number"),
    (message(text=""), "'text' must not be empty"),
    (message(callback_url="ftp://x"), "'callback_url' must be an http"),
    (message(callback_url=3), "'callback_url' must be an http"),
])
def test_invalid_single_message_names_the_field(body: Any, reason: str) -> None:
    with pytest.raises(InvalidBody, match=reason) as caught:
        parse_single(body, None)
    assert "612345678" not in str(caught.value)  # no phone number in errors


def test_batch_body_is_checked_as_a_whole() -> None:
    items = [{"reference": "a"}]
    assert parse_batch({"messages": items, "callback_url": None}) == (items, None)
    for body, reason in [
        ("x", "body must be a JSON object"),
        ({"callback_url": None}, "'messages' must be a list"),
        ({"messages": []}, "1..1000 messages, got 0"),
        ({"messages": [{}] * (MAX_BATCH + 1)}, "got 1001"),
        ({"messages": [{}], "callback_url": 1}, "'callback_url'"),
    ]:
        with pytest.raises(InvalidBody, match=reason):
            parse_batch(body)


def test_batch_items_are_checked_one_by_one() -> None:
    item = {k: v for k, v in message().items() if k != "callback_url"}
    assert parse_batch_item({**item, "idempotency_key": "k"}) == Submission("r1", "k")
    assert parse_batch_item(item) == Submission("r1", None)
    with pytest.raises(InvalidBody, match="'idempotency_key' must be a string"):
        parse_batch_item({**item, "idempotency_key": 7})
    with pytest.raises(InvalidBody, match="message must be a JSON object"):
        parse_batch_item("r1")
