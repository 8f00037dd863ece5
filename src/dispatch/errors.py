"""The project's own error for configuration, in a module of its own so that every
configuration parser (settings, lines) can raise it without importing the others."""


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message names the key."""
