"""The simulated SMPP 3.4 SMSC: server (the Trio service and its listener), connection
(one client's socket), core (bind and submit_sm decisions), policy (throttling, window,
injected faults), messages (which message a submit_sm belongs to), delivery and waiting
(deliver_sm to the receivers), receipts (their text), replies (MO from recipients),
control (its HTTP routes: the SMPP side of POST /mo, and /disconnect) and stats (its counters)."""
