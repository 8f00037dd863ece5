"""Virtual lines: pools of sender identities with their own rates, and the in-process
scheduler that spreads campaigns over them (see `scheduler` for the guarantees)."""
