"""The Kannel gateway: messages submitted through smsbox's sendsms HTTP interface
(gateway; the protocol's words in sendsms), delivery reports and replies called back by
Kannel with GET on the daemon's inbound port (callbacks). docs/gateways/kannel.md."""

from dispatch.gateways.kannel.callbacks import TOKEN_PARAM
from dispatch.gateways.kannel.gateway import KannelGateway, build, check_config

__all__ = ["TOKEN_PARAM", "KannelGateway", "build", "check_config"]
