"""The simulated HTTP SMS gateway: gateway (routes and acceptance), messages (validation of
/sms bodies), faults (its random decisions), poster (batched POSTs with retries),
receipts (the receipt poster) and replies (recipients' answers posted to the MO URL)."""
