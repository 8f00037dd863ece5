"""The accounts of the Twilio-style APIs the simulator serves (voice: Calls, twilio:
Messages) — one book for both, as a provider's account places calls and sends SMS alike:
the paths that name an account, Basic credentials checked, refusals in the provider's
JSON error shape, and each account's auth token, which signs what is posted back
(X-Twilio-Signature)."""

from __future__ import annotations

import binascii
import json
from base64 import b64decode
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

from dispatch.httpserver import Response
from dispatch.signing import TWILIO_HEADER, twilio_signature

PREFIX: Final = "/2010-04-01/Accounts/"
_ENCODER = json.JSONEncoder(separators=(",", ":"))


class Refusal(Exception):
    """The request is refused; the answer is {"code", "message", "more_info", "status"}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        body = {"code": self.code, "message": self.message, "status": self.status,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}"}
        return Response(self.status, _ENCODER.encode(body).encode(),
                        headers=dict(headers or {}))


def account_of(path: str, suffix: str) -> str | None:
    """The AccountSid of `PREFIX{sid}{suffix}`, or None if the path is not one."""
    if not (path.startswith(PREFIX) and path.endswith(suffix)):
        return None
    sid = path[len(PREFIX):-len(suffix)]
    return sid if sid and "/" not in sid else None


def check_credentials(accounts: Mapping[str, str], url_sid: str,
                      authorization: str | None) -> None:
    """Raise a 401 Refusal unless the Basic credentials are a configured account's and
    name the URL's account. With no account configured, any credentials (or none) pass,
    but a Basic user must still be the URL's account."""
    user_token = _basic(authorization)
    if user_token is None:
        if accounts:
            raise Refusal(401, 20003, "Authenticate")
        return
    user, token = user_token
    if user != url_sid or (accounts and accounts.get(user) != token):
        raise Refusal(401, 20003, "Authenticate")


def basic_token(authorization: str | None) -> str | None:
    """The token of Basic credentials, None if there are none."""
    user_token = _basic(authorization)
    return None if user_token is None else user_token[1]


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if authorization is None:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, token = decoded.partition(":")
    return (user, token) if sep else None


class Accounts:
    """The configured accounts (SID -> token; none: any credentials pass) and the token
    of each account seen, which signs its callbacks as the provider's do."""

    def __init__(self, configured: Mapping[str, str]) -> None:
        self._configured = dict(configured)
        self._tokens = dict(configured)
        self.latest: str | None = None  # the account of the latest authenticated request

    def authenticate(self, account: str, authorization: str | None) -> None:
        """Check a request's credentials (raises a 401 Refusal); with no account
        configured, learn the token it came with."""
        check_credentials(self._configured, account, authorization)
        token = basic_token(authorization)
        if token and not self._configured:
            self._tokens[account] = token
        self.latest = account

    def only(self) -> str | None:
        """The one configured account, if exactly one is."""
        return next(iter(self._configured)) if len(self._configured) == 1 else None

    def signature(self, account: str, url: str, body: bytes) -> dict[str, str]:
        """X-Twilio-Signature of a form POST of `body` to `url` with the account's token
        (none known: no header, the post goes unsigned)."""
        token = self._tokens.get(account)
        if not token:
            return {}
        form = parse_qsl(body.decode(), keep_blank_values=True)
        return {TWILIO_HEADER: twilio_signature(token, url, form)}
