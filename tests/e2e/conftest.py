from __future__ import annotations

from collections.abc import Iterator

import pytest

from dispatch.processes import Child


@pytest.fixture
def reaper() -> Iterator[list[Child]]:
    """Children a test starts; any still running when it ends (a failure) are killed."""
    children: list[Child] = []
    yield children
    for child in children:
        child.kill()
