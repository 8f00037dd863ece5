"""The simulator's Twilio-style Messages API (docs/gateways/twilio.md), served on the HTTP
port beside the Calls API and sharing its accounts: request (the form checked, with the
provider's error codes), core (acceptance, the statuses each message goes through, the
recipients' opt-outs the provider enforces — pure) and gateway (the Trio service: the
route, the signed callbacks and MO posted to the daemon, POST /twilio/mo)."""

from dispatch.simulator.twilio.gateway import TwilioMessages

__all__ = ["TwilioMessages"]
