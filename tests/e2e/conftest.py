from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.processes import Child
from dispatch.settings import RedisSettings, Settings
from tests.redis_cluster import ClusterGroup, redis_cluster

SINGLE, CLUSTER = "single", "cluster"
# The cases that run on a Redis Cluster too (3 masters, a replica each): parametrize a
# test with it to run it on both.
ON_BOTH = pytest.mark.parametrize("redis_kind", [SINGLE, CLUSTER])


@pytest.fixture
def reaper() -> Iterator[list[Child]]:
    """Children a test starts; any still running when it ends (a failure) are killed."""
    children: list[Child] = []
    yield children
    for child in children:
        child.kill()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterGroup]:
    """A Redis Cluster for the whole session, started the first time a test asks."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as group:
        yield group


@pytest.fixture
def redis_kind() -> str:
    """Which Redis a test's `settings` point to: the session's single Redis, unless the
    test is parametrized with ON_BOTH."""
    return SINGLE


@pytest.fixture
def settings(redis_url: str, tmp_path: Path, redis_kind: str,
             request: pytest.FixtureRequest) -> Settings:
    """Default settings with a key prefix of this test's own, on the session's Redis or,
    for the cluster run of an ON_BOTH test, on the session's Redis Cluster."""
    url = (request.getfixturevalue("cluster").url if redis_kind == CLUSTER
           else redis_url)
    return Settings(redis=RedisSettings(url=url, key_prefix=f"t{uuid.uuid4().hex[:10]}"),
                    state_dir=str(tmp_path / "state"))
