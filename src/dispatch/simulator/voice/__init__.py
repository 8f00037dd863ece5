"""The simulator's voice side: the programmable-voice Calls API of docs/VOICE.md, served
on the HTTP gateway's port. request (the route's checks: account, credentials, form),
twiml (where a keypress goes), plan (what becomes of a call), call (a call in progress and
its callbacks), core (the decisions and the book, pure) and gateway (the Trio service:
the route, the ticker, the callback poster)."""

from dispatch.simulator.voice.gateway import VoiceGateway

__all__ = ["VoiceGateway"]
