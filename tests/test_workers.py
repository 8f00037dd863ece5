"""The settings of each worker of `dispatch run --processes N`."""

from __future__ import annotations

from dataclasses import replace

from dispatch.settings import Settings
from dispatch.workers import worker_settings


def test_each_worker_has_its_consumer_name_and_its_own_ports() -> None:
    base = Settings()
    base = replace(base, daemon=replace(base.daemon, inbound_port=8470, metrics_port=9470))
    first, third = worker_settings(base, 1, "host"), worker_settings(base, 3, "host")
    assert (first.daemon.consumer, first.daemon.inbound_port,
            first.daemon.metrics_port) == ("host-1", 8470, 9470)
    assert (third.daemon.consumer, third.daemon.inbound_port,
            third.daemon.metrics_port) == ("host-3", 8472, 9472)


def test_ports_chosen_by_the_kernel_stay_so() -> None:
    base = Settings()
    base = replace(base, daemon=replace(base.daemon, inbound_port=0, metrics_port=0))
    worker = worker_settings(base, 2, "host")
    assert (worker.daemon.inbound_port, worker.daemon.metrics_port) == (0, 0)
