"""The Trio SMPP client (ESME) behind `dispatch.gateways.smpp.SmppGateway`: binds kept up
with backoff, a window per bind, batched writes, adaptive throttling, receipts and MO.
Pure parts (window, rate, backoff, submit, mo) import no Trio I/O."""
