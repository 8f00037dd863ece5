"""The project's own errors that end a command with one line on stderr, in a module of
their own so that any layer (settings, store, daemon) can raise them without importing
the commands. Each message says what went wrong and, last in parentheses, where: a
config key, a host:port, a socket or a directory; never a URL (it may hold a password).
The exit code of each is in dispatch.commands.common.ExitCode."""


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message names the key."""


class RedisUnavailableError(Exception):
    """Redis cannot be used: nothing answers where it should, it refused the login, or
    the embedded one is not running (for a command that does not start it)."""


class PortUnavailableError(Exception):
    """A port to listen on cannot be had (in use, not permitted, no such address)."""
