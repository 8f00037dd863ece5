"""What gateways send back: receipts and replies recorded by the inbox (gateway-neutral),
STOP honoured before the reply is acknowledged, HELP and opt-out confirmations answered,
and the inbound HTTP port that routes to the gateways' callbacks."""
