"""Gateways: the interface the daemon sends through (base), and one package per gateway
kind, owning its whole protocol: requests, receipts, replies, errors (http, smpp). A kind
is a package here and one line in the composition root (dispatch.app.GATEWAY_KINDS)."""
