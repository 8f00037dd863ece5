from __future__ import annotations

from pathlib import Path

import trio

from dispatch.store.server import ensure_embedded, ping, stop_embedded


async def test_embedded_redis_starts_once_is_reused_and_stops(tmp_path: Path) -> None:
    with trio.fail_after(30):
        state = tmp_path / "state"
        url = await ensure_embedded(state)
        assert url == f"unix://{state / 'redis.sock'}"
        assert await ping(state / "redis.sock")
        pid = (state / "redis.pid").read_text()
        assert await ensure_embedded(state) == url  # reused, not started again
        assert (state / "redis.pid").read_text() == pid
        assert await stop_embedded(state)
        assert not await ping(state / "redis.sock")
        assert not await stop_embedded(state)
