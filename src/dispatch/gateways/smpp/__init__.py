"""The SMPP 3.4 gateway: the Trio client (ESME) over the sans-IO protocol in dispatch.smpp.

`gateway.SmppGateway` is what the daemon sends through: binds kept up with backoff
(binder), a window per bind (window, connection), batched writes (writer), adaptive
throttling (rate), long messages in parts (submit, partial), receipts and MO read from
deliver_sm and handed to the daemon's `Inbound` (delivery, mo, in_order). The pure parts
(window, rate, submit, partial, mo) import no Trio.
"""

from dispatch.gateways.smpp.gateway import SmppGateway, build, check_config

__all__ = ["SmppGateway", "build", "check_config"]
