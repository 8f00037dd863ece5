"""The `dispatch run` daemon: read, admit, send, record, receipts — all in batches."""
