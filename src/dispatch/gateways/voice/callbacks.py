"""What a voice provider posts back to the daemon's inbound port (docs/VOICE.md): a call's
status (POST /voice/status) and the keys pressed during it (POST /voice/gather), handed to
the daemon's `Inbound` before the provider gets its answer, so nothing is acknowledged
and then lost: a 9 is on the suppression list before the recipient hears it confirmed."""

from __future__ import annotations

import logging
from typing import Final

from dispatch.gateways.base import Inbound
from dispatch.gateways.provider import CallbackError, read_form
from dispatch.gateways.voice.calls import call_ended, keypress
from dispatch.gateways.voice.twiml import keypress_twiml
from dispatch.httpserver import Handler, Request, Response, error_response

log = logging.getLogger(__name__)

STATUS_PATH: Final = "/voice/status"
GATHER_PATH: Final = "/voice/gather"


class VoiceCallbacks:
    def __init__(self, inbound: Inbound, gateway: str) -> None:
        self._inbound = inbound
        self._gateway = gateway

    def routes(self) -> dict[str, Handler]:
        return {STATUS_PATH: self.status, GATHER_PATH: self.gather}

    async def status(self, request: Request) -> Response:
        try:
            ended = call_ended(read_form(request))
        except CallbackError as exc:
            self._inbound.not_recorded("invalid")
            log.warning("call status refused: %s", exc)
            return error_response(400, str(exc))
        if ended is None:
            self._inbound.not_recorded("intermediate")
        else:
            await self._inbound.calls([ended])
        return Response(200, b"", "text/plain")

    async def gather(self, request: Request) -> Response:
        try:
            press = keypress(read_form(request), self._gateway)
        except CallbackError as exc:
            log.warning("keypress refused: %s", exc)
            return error_response(400, str(exc))
        await self._inbound.keypresses([press])
        return Response(200, keypress_twiml(press.digits).encode(), "application/xml")

