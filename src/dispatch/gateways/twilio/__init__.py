"""The twilio gateway: SMS through a Twilio-style Messages API (docs/gateways/twilio.md):
the provider's answers read into the vocabulary (answers), submissions one request each
(gateway), status callbacks and the number's inbound webhook on the daemon's inbound port
(callbacks)."""

from dispatch.gateways.twilio.gateway import TwilioGateway, build, check_config

__all__ = ["TwilioGateway", "build", "check_config"]
