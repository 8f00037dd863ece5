"""The collector settings of the batch-moving processes (daemon, simulator, enqueue)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dispatch.gc_tuning import FIRST_THRESHOLD, tune_for_batches


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_collections_come_later() -> None:
    gc.unfreeze()
    _, second, third = gc.get_threshold()
    tune_for_batches()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (FIRST_THRESHOLD, second, third)
