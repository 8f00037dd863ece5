"""Pure policies: retry and backoff now; windows, blackout and keywords later."""
