"""Validation of /sms and /sms/batch bodies — pure.

Only what the ledger needs survives validation (reference, idempotency key): the simulator
never keeps message texts or phone numbers.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

MAX_BATCH = 1000
# "+" then an E.164 number: a non-zero country-code digit, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_STRING_FIELDS = ("reference", "to", "from", "text")


class InvalidBody(ValueError):
    """The body (or one batch item) is malformed; the message says which field and why."""


class Submission(NamedTuple):
    reference: str
    idempotency_key: str | None


def parse_single(body: Any, header_key: str | None) -> tuple[Submission, str | None]:
    """A /sms body -> (submission, callback_url); raises InvalidBody."""
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object")
    callback_url = _callback_url(body)
    return Submission(_message_reference(body), header_key or None), callback_url


def parse_batch(body: Any) -> tuple[list[Any], str | None]:
    """A /sms/batch body -> (raw items, callback_url); raises InvalidBody for the whole
    batch. Items are checked one by one with `parse_batch_item`."""
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidBody("'messages' must be a list")
    if not 1 <= len(messages) <= MAX_BATCH:
        raise InvalidBody(f"'messages' must hold 1..{MAX_BATCH} messages, got {len(messages)}")
    return messages, _callback_url(body)


def parse_batch_item(item: Any) -> Submission:
    if not isinstance(item, dict):
        raise InvalidBody("message must be a JSON object")
    key = item.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise InvalidBody("'idempotency_key' must be a string or null")
    return Submission(_message_reference(item), key or None)


def batch_item_reference(item: Any) -> Any:
    """The reference to echo in an error result, whatever shape the item has."""
    return item.get("reference") if isinstance(item, dict) else None


def _message_reference(message: dict[str, Any]) -> str:
    for name in _STRING_FIELDS:
        if not isinstance(message.get(name), str):
            raise InvalidBody(f"'{name}' must be a string")
    if not message["reference"]:
        raise InvalidBody("'reference' must not be empty")
    if not message["text"]:
        raise InvalidBody("'text' must not be empty")
    if not _E164.fullmatch(message["to"]):
        raise InvalidBody("'to' must be an E.164 number: '+' and 2..15 digits")
    return str(message["reference"])


def _callback_url(body: dict[str, Any]) -> str | None:
    url = body.get("callback_url")
    if url is None or url == "":
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidBody("'callback_url' must be an http(s) URL or null")
    return url
