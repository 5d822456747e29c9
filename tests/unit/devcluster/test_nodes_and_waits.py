"""Fake nodes advertise what the scheduler needs; waits poll until a deadline and say what they waited for."""

from __future__ import annotations

import pytest

from sextant_devcluster.commands import FAKE_NODE_ANNOTATION
from sextant_devcluster.nodes import GPU_RESOURCE, default_fake_nodes
from sextant_devcluster.readiness import WaitTimeout, wait_for


def test_three_cpu_nodes_and_one_gpu_node_all_managed_by_kwok() -> None:
    nodes = default_fake_nodes()
    gpu = [n for n in nodes if GPU_RESOURCE in n["status"]["allocatable"]]
    assert len(nodes) - len(gpu) >= 3
    assert [n["status"]["allocatable"][GPU_RESOURCE] for n in gpu] == ["1"]
    assert all(n["metadata"]["annotations"][FAKE_NODE_ANNOTATION] == "fake" for n in nodes)
    assert all(n["spec"]["taints"][0]["effect"] == "NoSchedule" for n in nodes)


def test_wait_for_returns_once_the_condition_holds() -> None:
    calls = iter([False, False, True])
    wait_for(lambda: next(calls), timeout=5, what="third call", interval=0.001)


def test_wait_for_times_out_naming_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match="waiting for the moon"):
        wait_for(lambda: False, timeout=0.05, what="the moon", interval=0.01)


def test_wait_for_stops_early_when_on_poll_raises() -> None:
    def died() -> None:
        raise RuntimeError("etcd exited")

    with pytest.raises(RuntimeError, match="etcd exited"):
        wait_for(lambda: False, timeout=30, what="never", on_poll=died)
