"""The voice gateway: recorded calls through a programmable-voice provider, in the shape of
Twilio's Calls API (docs/VOICE.md): the call script (calls.py reads the provider's answers
and callbacks, twiml.py writes the script), placements (gateway), status and keypress
callbacks on the daemon's inbound port (callbacks)."""

from dispatch.gateways.voice.gateway import VoiceGateway, build, check_config

__all__ = ["VoiceGateway", "build", "check_config"]
