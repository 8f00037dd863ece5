"""Redis adapter: connection, embedded server, Lua scripts, queue operations."""
