"""Pure policies: backoff and retries, MO keywords, time zones, holidays, sending windows,
deadlines, lint of campaign texts, answers. No Trio, no Redis, no sockets (checked by the
import contracts in pyproject.toml)."""
