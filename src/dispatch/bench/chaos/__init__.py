"""The chaos scenario: one campaign through every fault a production day can bring, then a
ledger check (benchmarks/chaos.py runs it; tests/e2e/test_chaos.py runs a short one).

plan (when each fault comes), redis_child (a redis-server to kill and stop), daemon_slot
(the daemon, killed and restarted as systemd would), drill (the faults applied), verdict
(recovery times, STOP delays and the ledger, pure), run (all of it around one campaign).
"""
