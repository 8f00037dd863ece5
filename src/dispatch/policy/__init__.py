"""Pure policies: retry and backoff, MO keywords, time zones, holidays, sending windows,
deadlines, lint of campaign texts. No Redis, no sockets (waiting.py alone uses Trio)."""
