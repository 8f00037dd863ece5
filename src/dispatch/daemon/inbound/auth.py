"""Who may post to the inbound port: each gateway's callbacks are signed (dispatch.signing),
or carry a shared token when the gateway cannot sign (Kannel), and are checked here before
any handler reads them; a post that is not authentic gets 401, is counted
(dispatch_inbound_rejected{gateway,reason}) and changes nothing.

The gateway a post belongs to is named by the callback URL the daemon gave it
(`?gateway=NAME`); with one gateway on a route, a URL without it is that gateway's. The
check is CPU only: an HMAC of the body, no Redis round trip.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import parse_qs, parse_qsl, urljoin

from prometheus_client import Counter

from dispatch import signing
from dispatch.httpserver import Handler, Request, Response, error_response

log = logging.getLogger(__name__)

GATEWAY_PARAM: Final = "gateway"  # the callback URL's query parameter naming the gateway
UNKNOWN: Final = "unknown"  # metric label of a post naming no gateway of that route
UNKNOWN_GATEWAY: Final = "unknown_gateway"
NO_SECRET: Final = "no_secret"  # signed, but the gateway has no secret to check it with
NO_TOKEN: Final = "no_token"  # a token gateway's request without its token
BAD_TOKEN: Final = "bad_token"  # ... with another one
REFUSED_LOG_S: Final = 60.0  # one log line a minute at most: a flood stays one line


class Verifier(Protocol):
    def __call__(self, request: Request, now: float) -> str | None:
        """None if the post is authentic, else why not (a metric label)."""
        ...


@dataclass(frozen=True)
class HmacVerifier:
    """dispatch v1: X-Dispatch-Timestamp and X-Dispatch-Signature (HTTP gateways)."""

    secret: str

    def __call__(self, request: Request, now: float) -> str | None:
        if not self.secret:  # never check against "": anyone could sign with it
            return NO_SECRET
        headers = request.headers
        return signing.verify(self.secret, headers.get(signing.TIMESTAMP_HEADER.lower()),
                              headers.get(signing.SIGNATURE_HEADER.lower()), request.body,
                              now)


@dataclass(frozen=True)
class TwilioVerifier:
    """X-Twilio-Signature with the account's auth token (voice gateways), over the URL the
    provider was given: the callback URL's origin and path prefix (a public URL behind a
    proxy included), the path and query posted to."""

    auth_token: str
    callback_url: str

    def __call__(self, request: Request, now: float) -> str | None:
        if not self.auth_token:
            return NO_SECRET
        url = urljoin(self.callback_url, request.path.lstrip("/"))
        if request.query:
            url += "?" + request.query
        form = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return signing.verify_twilio(self.auth_token, url, form,
                                     request.headers.get(signing.TWILIO_HEADER.lower()))


@dataclass(frozen=True)
class TokenVerifier:
    """A shared token in the callback URL's query (`param`), for a gateway that cannot sign
    what it sends (Kannel calls its dlr-url and get-url as configured): the secret travels
    in the URL, so it is only as private as the gateway's configuration and access log.
    Compared in constant time."""

    token: str
    param: str

    def __call__(self, request: Request, now: float) -> str | None:
        if not self.token:  # never check against "": any request would carry it
            return NO_SECRET
        given = parse_qs(request.query).get(self.param)
        if not given:
            return NO_TOKEN
        return None if hmac.compare_digest(given[-1].encode(), self.token.encode()) \
            else BAD_TOKEN


class InboundAuth:
    """The verifier of each gateway (None: `inbound_auth = "none"`, taken unsigned) and the
    paths it posts to."""

    def __init__(self, verifiers: Mapping[str, Verifier | None],
                 paths: Mapping[str, frozenset[str]], rejected: Counter,
                 clock: Callable[[], float] = time.time) -> None:
        self._verifiers = dict(verifiers)
        self._paths = dict(paths)
        self._rejected = rejected
        self._clock = clock
        self._logged_at: float | None = None  # time.monotonic() of the last line
        self._unlogged = 0

    def check(self, request: Request) -> Response | None:
        """None if the post may be handled, else the 401 to answer."""
        gateway = self._gateway_of(request)
        if gateway is None:
            return self._refuse(UNKNOWN, UNKNOWN_GATEWAY)
        verifier = self._verifiers.get(gateway)
        reason = None if verifier is None else verifier(request, self._clock())
        return None if reason is None else self._refuse(gateway, reason)

    def _gateway_of(self, request: Request) -> str | None:
        named = parse_qs(request.query).get(GATEWAY_PARAM)
        if named:
            name = named[-1]
            return name if request.path in self._paths.get(name, ()) else None
        serving = [name for name, paths in self._paths.items() if request.path in paths]
        return serving[0] if len(serving) == 1 else None

    def _refuse(self, gateway: str, reason: str) -> Response:
        self._rejected.labels(gateway, reason).inc()
        self._log(gateway, reason)
        return error_response(401, f"not authenticated: {reason}")

    def _log(self, gateway: str, reason: str) -> None:
        """One line a minute at most, naming no body and no number: a forger's flood must
        not fill the journal (the metric counts every one)."""
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < REFUSED_LOG_S:
            self._unlogged += 1
            return
        others = f" (and {self._unlogged} more since the last line)" if self._unlogged else ""
        log.warning("inbound post refused (401): gateway %s, %s%s; see "
                    "dispatch_inbound_rejected_total", gateway, reason, others)
        self._logged_at, self._unlogged = now, 0


def authenticated(routes: Mapping[str, Handler], auth: InboundAuth) -> dict[str, Handler]:
    """`routes`, each checking `auth` before its handler reads anything."""
    return {path: _checked(handler, auth) for path, handler in routes.items()}


def _checked(handler: Handler, auth: InboundAuth) -> Handler:
    async def handle(request: Request) -> Response:
        refused = auth.check(request)
        return refused if refused is not None else await handler(request)
    return handle
