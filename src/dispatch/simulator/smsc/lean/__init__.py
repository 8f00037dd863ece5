"""The lean SMSC (`dispatch simulator --lean`): the SMSC a load benchmark needs and no
more, at a few microseconds of CPU per message with its receipt.

It answers binds (the accounts checked), submit_sm (ESME_RMSGQFUL past the window, line
rates if set, unique message ids, the shared ledger: accepted, duplicates, a long message
counted once) and sends standard delivery receipts over the binds' windows, resent when
refused or unanswered. Off: injected faults and latency, bind rates, MO and replies, live
faults (POST /faults), POST /disconnect, server enquire_link, receipt dialects and jitter;
SimulatorConfig refuses the flags that need them.

receipts (the deliver_sm bodies, pure), connection (one client), server (the listener
and the receipts whose connection has gone).
"""
