"""The `dispatch run` daemon: read, admit, send, record, receipts — all in batches.

outbound/ takes messages from Redis to the gateways and records what became of them;
inbound/ takes what gateways send back (receipts, replies, STOP) and answers; upkeep/ keeps
the data honest over time (receipts that never come, retention). service.py runs the task
tree that the composition root (dispatch.app) builds.
"""
