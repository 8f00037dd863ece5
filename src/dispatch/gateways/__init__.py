"""Gateways: the interface the daemon sends through, and its adapters (HTTP now)."""
